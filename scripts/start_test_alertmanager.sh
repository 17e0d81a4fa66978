#!/usr/bin/env bash
# A throwaway Alertmanager on 127.0.0.1 for the monitoring tests (Debian's prometheus-alertmanager).
#
#   eval "$(scripts/start_test_alertmanager.sh start)"   # prints `export OCTRACKER_TEST_ALERTMANAGER_URL=...`
#   scripts/start_test_alertmanager.sh stop               # stops it and deletes its folder
#
# Idempotent: `start` on a running server only prints its environment again. The server lives under
# /tmp (or $OCTRACKER_TEST_ALERTMANAGER_DIR), listens on 127.0.0.1 only, on a free port, without clustering
# (no gossip port), with a configuration that routes every alert to a receiver that sends nothing: the
# tests read what it holds through its API. As root, the package is installed when missing.
set -euo pipefail
SERVER_SCRIPT=start_test_alertmanager
# shellcheck source=scripts/throwaway_server.sh
source "$(dirname "${BASH_SOURCE[0]}")/throwaway_server.sh"

ROOT="${OCTRACKER_TEST_ALERTMANAGER_DIR:-/tmp/octracker-test-alertmanager-$(id -u)}"
ENV_FILE="$ROOT/env"
PID_FILE="$ROOT/pid"

find_binary() {
    local name
    # Debian names the binary after the package; upstream's tarball calls it alertmanager.
    for name in prometheus-alertmanager alertmanager; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    done
    return 1
}

install_alertmanager() {
    if find_binary >/dev/null; then return 0; fi
    install_package prometheus-alertmanager Alertmanager "the Alertmanager tests"
}

is_running() {
    [ -f "$ENV_FILE" ] && [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

wait_ready() {
    local url="$1"
    python3 - "$url" <<'PY'
import sys, time, urllib.request
url = sys.argv[1] + "/-/ready"
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(f"Alertmanager at {url} did not become ready within 30 s")
PY
}

start() {
    install_alertmanager
    local binary port url
    binary="$(find_binary)"
    if is_running; then
        cat "$ENV_FILE"
        return 0
    fi
    stop
    mkdir -p "$ROOT/data"
    chmod 700 "$ROOT"
    cat >"$ROOT/alertmanager.yml" <<'YML'
# Every alert goes to a receiver with no integrations: the tests read the alerts back through the API.
route:
  receiver: tests
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tests
YML
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    # setsid: the server must outlive this script, and a test runner's Ctrl-C must not reach it half-way.
    setsid "$binary" \
        --config.file="$ROOT/alertmanager.yml" \
        --storage.path="$ROOT/data" \
        --web.listen-address="127.0.0.1:$port" \
        --cluster.listen-address= \
        --log.level=warn \
        >"$ROOT/server.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    if ! wait_ready "$url"; then
        cat "$ROOT/server.log" >&2
        stop
        exit 1
    fi
    cat >"$ENV_FILE" <<ENV
export OCTRACKER_TEST_ALERTMANAGER_URL=$url
ENV
    say "Alertmanager $("$binary" --version 2>&1 | awk 'NR == 1 {print $3}') listening on $url"
    cat "$ENV_FILE"
}

stop() {
    if [ -f "$PID_FILE" ]; then
        local pid
        pid="$(cat "$PID_FILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
    fi
    rm -rf "$ROOT"
}

run_server_command "$@"

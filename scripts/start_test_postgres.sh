#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the DuckLake tests (catalog in PostgreSQL).
#
#   eval "$(scripts/start_test_postgres.sh start)"   # prints `export PG...=...` lines for the tests
#   scripts/start_test_postgres.sh stop               # stops the server and deletes its cluster
#
# Idempotent: `start` on a running cluster only prints its environment again. The cluster lives under
# /tmp, listens on 127.0.0.1 only, on a free port, with password (scram) authentication and a random
# password that is only ever written to the cluster's own folder (mode 700) and to the printed exports.
# As root, PostgreSQL is installed from Debian's packages when missing and runs as the `postgres` user.
set -euo pipefail
SERVER_SCRIPT=start_test_postgres
# shellcheck source=scripts/throwaway_server.sh
source "$(dirname "${BASH_SOURCE[0]}")/throwaway_server.sh"

ROOT="${OCTRACKER_TEST_PG_DIR:-/tmp/octracker-test-pg-$(id -u)}"
DATA="$ROOT/data"
ENV_FILE="$ROOT/env"

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    done
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
    return 1
}

# Run as the cluster owner: root may not run PostgreSQL, so root hands over to `postgres`.
as_owner() {
    # From `/`: the caller's folder (a private checkout) may be closed to `postgres`.
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

install_postgres() {
    if find_bindir >/dev/null; then return 0; fi
    install_package postgresql PostgreSQL "the lake tests"
}

is_running() {
    [ -f "$ENV_FILE" ] && [ -f "$DATA/postmaster.pid" ] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    install_postgres
    BINDIR="$(find_bindir)"
    if is_running; then
        cat "$ENV_FILE"
        return 0
    fi
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    chmod 700 "$ROOT"
    local port password
    port="$(free_port)"
    password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
    printf '%s\n' "$password" >"$ROOT/pwfile"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$ROOT"; fi
    as_owner "$BINDIR/initdb" -D "$DATA" -U octracker --pwfile="$ROOT/pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 || { cat "$ROOT/initdb.log" >&2; exit 1; }
    rm -f "$ROOT/pwfile"
    # Loopback only, socket in the cluster folder, small and fast (fsync off: the data is thrown away).
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null || { cat "$ROOT/server.log" >&2; exit 1; }
    cat >"$ENV_FILE" <<EOF
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=octracker
export PGPASSWORD=$password
export PGDATABASE=postgres
EOF
    chmod 600 "$ENV_FILE"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$ENV_FILE"; fi
    say "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port"
    cat "$ENV_FILE"
}

stop() {
    BINDIR="$(find_bindir)" || return 0
    if [ -d "$DATA" ]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$ROOT"
}

run_server_command "$@"

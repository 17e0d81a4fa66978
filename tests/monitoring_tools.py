"""The real monitoring components for tests: a throwaway Alertmanager on 127.0.0.1, and promtool.

Both come from Debian's packages (`prometheus-alertmanager`, `prometheus`). Without them the tests that need
them skip and say so; CI (`OCTRACKER_REQUIRE_MONITORING_TESTS=1`, set by .ci/run after installing them) fails
instead, so a missing package cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "OCTRACKER_REQUIRE_MONITORING_TESTS"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "start_test_alertmanager.sh"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")


def need(binary: str | None, what: str, package: str) -> str:
    """The binary's path; a skip (or, in CI, a failure) naming the package when it is not installed."""
    if binary is None:
        reason = f"{what} is not installed (Debian: apt-get install {package}; .ci/run installs it)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"monitoring tests required ({REQUIRE_ENV}) but {reason}")
        pytest.skip(reason)
    return binary


@dataclass
class Alertmanager:
    """A running Alertmanager: its base URL and a reader of what it holds."""

    url: str

    def alerts(self, **filters: str) -> list[dict]:
        """GET /api/v2/alerts: the alerts it holds now (active, silenced and inhibited; not resolved)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        with urllib.request.urlopen(
            f"{self.url}/api/v2/alerts" + (f"?{query}" if query else ""), timeout=10
        ) as response:
            return json.loads(response.read())

    def post(self, alerts: list[dict]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@pytest.fixture
def alertmanager(tmp_path_factory) -> Iterator[Alertmanager]:
    """A fresh Alertmanager of the test's own (about 1-2 s to start), stopped and deleted afterwards."""
    need(ALERTMANAGER, "Alertmanager", "prometheus-alertmanager")
    folder = tmp_path_factory.mktemp("alertmanager")
    env = {**os.environ, "OCTRACKER_TEST_ALERTMANAGER_DIR": str(folder / "am")}
    started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=60)
    if started.returncode != 0:
        pytest.fail(f"{SCRIPT.name} start failed: {started.stderr}")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines() if line.startswith("export ")
    )
    try:
        yield Alertmanager(url=exports["OCTRACKER_TEST_ALERTMANAGER_URL"])
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=60, check=True)


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess:
    """`promtool check metrics` on an exposition: exit 0 and no output when Prometheus finds nothing to fault."""
    promtool = need(PROMTOOL, "promtool", "prometheus")
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


def promtool_check_config(path: Path) -> subprocess.CompletedProcess:
    """`promtool check config`: whether Prometheus would load this configuration file."""
    promtool = need(PROMTOOL, "promtool", "prometheus")
    return subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60)


def amtool_check_config(path: Path) -> subprocess.CompletedProcess:
    """`amtool check-config`: whether Alertmanager would load this configuration file."""
    amtool = need(AMTOOL, "amtool", "prometheus-alertmanager")
    return subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)

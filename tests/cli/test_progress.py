"""Progress bars show on a terminal, and stay out of pipes, cron logs, --quiet and --json."""

from __future__ import annotations

import os
import pty
import select
import subprocess

import pytest

from conftest import child_env, octracker_command

pytestmark = pytest.mark.slow


def environment():
    return child_env(TERM="xterm-256color", COLUMNS="120")


def run_on_terminal(settings, *args) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as stdin, stdout and stderr; return its exit status and screen."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        octracker_command(settings, *args),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment(),
        close_fds=True,
    )
    os.close(terminal)
    screen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the command has finished
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    return process.wait(timeout=60), screen.decode("utf-8", "replace")


def test_refresh_shows_progress_on_a_terminal(settings):
    code, screen = run_on_terminal(settings, "refresh")
    assert code == 0
    pipelines = len(list((settings.project / "pipelines").glob("*.toml")))
    assert "Refresh" in screen and f"/{pipelines}" in screen and "━" in screen  # a bar counting the pipelines
    assert "oci_2025_profiles" in screen


def test_refresh_in_a_pipe_prints_no_progress(settings):
    result = subprocess.run(
        octracker_command(settings, "refresh"), capture_output=True, text=True, env=environment(), timeout=120
    )
    assert result.returncode == 0
    assert "━" not in result.stderr and "\x1b[" not in result.stderr and "Refresh" in result.stdout


@pytest.mark.parametrize("args", [("-q", "refresh"), ("refresh", "--json")])
def test_quiet_and_json_show_no_progress_even_on_a_terminal(settings, args):
    code, screen = run_on_terminal(settings, *args)
    assert code == 0 and "━" not in screen


def test_report_shows_chart_progress_on_a_terminal(settings, tmp_path):
    from octracker.load.pipeline import refresh

    refresh(settings)
    code, screen = run_on_terminal(settings, "report", "--out", str(tmp_path))
    assert code == 0
    assert "Charts" in screen and "/43" in screen and f"Wrote {tmp_path / 'index.html'}" in screen

"""The scheduler starts whatever state the published copy is in, and stops in bounded time whatever its jobs wait on.

What must hold: `octracker schedule` over a damaged published copy starts, says it published the copy again, and
the copy reads as the warehouse; SIGTERM ends it within seconds even while a job waits on a slow server.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from hostile_fixtures import baseline, child_env, loaded, octracker_command  # noqa: F401

from published import read_rows


def start_scheduler(settings, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        octracker_command(settings, "schedule", "--inbox-cron", "0 0 1 1 *"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**env),
    )


def wait_until_running(child: subprocess.Popen, timeout: float = 90) -> str:
    """The scheduler's stderr up to its start-up line (fails if the process ends first)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = child.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("Scheduler running on"):
            return "".join(seen)
    child.kill()
    out, err = child.communicate()
    pytest.fail(f"the scheduler did not start (exit {child.returncode}): {''.join(seen)}{err}")


@pytest.mark.parametrize("damage", ["garbage", "cut_in_half", "empty"])
def test_a_damaged_published_copy_does_not_stop_the_scheduler_from_starting(loaded, damage):
    published = loaded.published_path
    runs_before = set(read_rows(published, "SELECT run_id FROM runs"))
    content = published.read_bytes()
    published.write_bytes(
        {"garbage": b"not a database\n" * 1000, "cut_in_half": content[: len(content) // 2], "empty": b""}[damage]
    )
    child = start_scheduler(loaded)
    try:
        started = wait_until_running(child)
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0
    assert "the published copy cannot be read" in started and "published again from the warehouse" in started
    # Every run recorded before is in the copy again (the scheduler may have started a due job since).
    assert runs_before <= set(read_rows(published, "SELECT run_id FROM runs"))

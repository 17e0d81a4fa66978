"""Analysts and the refresh never block each other: readers use the published copy, the refresh swaps it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb

from conftest import child_env, octracker_command
from octracker.load.pipeline import refresh

CASES = Path(__file__).resolve().parents[1] / "cases" / "inbox"

#: An analyst's own Python session: opens the published copy read-only, says so, keeps the connection
#: open until told to go on (the test runs a refresh meanwhile), then queries it again.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
before = con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
print("open", before, flush=True)
sys.stdin.readline()
heavy = con.execute("SELECT COUNT(*) FROM observations, range(100000)").fetchone()[0]
after = con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
print("done", before, after, heavy, flush=True)
"""


def start_reader(settings) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.published_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def run_with_deadline(work, seconds: float):
    """Run `work` in a thread; fail (instead of hanging) if it is blocked for longer than `seconds`."""
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still blocked after {seconds} s"
    return outcome[0]


def test_a_reader_holding_the_published_copy_neither_fails_nor_blocks_a_refresh(settings):
    refresh(settings, ["oci_2025_profiles"])
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "oci_2023.txt").write_bytes((CASES / "oci_2023_profiles_nl_be.txt").read_bytes())
    (settings.inbox_dir / "oci_2023.txt.meta.toml").write_text('kind = "oci_profile"\nedition = 2023\n')
    reader = start_reader(settings)
    try:
        assert reader.stdout.readline().split() == ["open", "144"]
        # The refresh runs, writes and publishes while the reader's connection stays open.
        results = run_with_deadline(lambda: refresh(settings, ["inbox"]), seconds=60)
        assert reader.poll() is None
        out, err = reader.communicate("go on\n", timeout=120)
    finally:
        reader.kill()
    assert [r.status for r in results] == ["success"]
    assert reader.returncode == 0, err
    # The reader kept its snapshot (the copy it opened) for the whole session.
    assert out.split() == ["done", "144", "144", "14400000"]
    # A new connection sees the refreshed copy.
    con = duckdb.connect(str(settings.published_path), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 144 + 128
    con.close()


def test_octracker_sql_reads_while_a_long_reader_has_the_copy_open(settings):
    refresh(settings, ["oci_2025_profiles"])
    reader = start_reader(settings)
    try:
        assert reader.stdout.readline().startswith("open")
        sql = subprocess.run(
            octracker_command(settings, "sql", "SELECT COUNT(*) AS n FROM series WHERE geo = 'BE'", "--format", "csv"),
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
        )
        assert reader.poll() is None
        reader.communicate("go on\n", timeout=120)
    finally:
        reader.kill()
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines()[0] == "n" and int(sql.stdout.splitlines()[1]) > 0
    assert reader.returncode == 0

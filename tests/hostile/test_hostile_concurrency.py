"""Concurrency: refreshes while analysts read, two refreshes at once, a scheduler and manual commands.

What must hold afterwards:
- a reader opening the published copy over and over while refreshes publish never fails and only ever sees
  a complete copy (each count it reads is one that a refresh published);
- of two writers at once the second waits for the first (`OCTRACKER_LOCK_TIMEOUT`, default 60 s) and then
  does its work, or, when the wait runs out, exits 1 saying another process is writing, having changed
  nothing (not even a copy of its file in the inbox); never a half-written or doubled load;
- a scheduler with jobs firing every second and manual `refresh` / `ingest` commands all complete: every run
  succeeds, each file is loaded exactly once, nothing stays `running`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from hostile_fixtures import (  # noqa: F401 - fixtures
    baseline,
    child_env,
    loaded,
    loaded_scratch,
    octracker_command,
    run_octracker,
)
from hostile_inputs import GOOD_CSV, GOOD_ROWS
from warehouse_state import assert_unchanged, snapshot

from octracker.load.pipeline import refresh
from octracker.schedule.scheduler import run_scheduler
from octracker.store.settings import LOCK_TIMEOUT_ENV
from published import read_rows

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


@contextlib.contextmanager
def another_writer(settings) -> Iterator[subprocess.Popen]:
    """A process holding the warehouse open for writing until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.communicate("done\n", timeout=30)


def start(settings, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        octracker_command(settings, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**env),
    )


def drop_csv(folder: Path, name: str) -> Path:
    """The good long table under `name`; its source is named after the file, and its bytes differ by name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(GOOD_CSV.replace(b"brussels-2024", f"brussels-2024?{name}".encode()))
    return folder / name


# Two writers ------------------------------------------------------------------------------------------------------


def test_a_second_writer_gives_up_clearly_when_the_lock_timeout_passes_and_changes_nothing(loaded, tmp_path):
    csv = drop_csv(tmp_path, "shootings.csv")
    before, published_before = snapshot(loaded.warehouse), snapshot(loaded.published_path)
    with another_writer(loaded) as holder:
        began = time.monotonic()
        refused = run_octracker(loaded, "refresh", **{LOCK_TIMEOUT_ENV: "1"})
        ingest = run_octracker(loaded, "ingest", str(csv), **{LOCK_TIMEOUT_ENV: "0"})
        waited = time.monotonic() - began
    for done in (refused, ingest):
        assert done.returncode == 1
        # The holder is a plain Python program, not octracker: the message says so, with its PID.
        assert "another octracker process" not in done.stderr
        assert f"the warehouse file is locked by another program, PID {holder.pid} (" in done.stderr
        assert "then try again" in done.stderr
    assert "(waited 1 s)" in refused.stderr and waited < 30
    # Nothing happened: not a run row, not a copy of the file waiting in the inbox for a later refresh.
    assert_unchanged(loaded.warehouse, before, may_grow=frozenset())
    assert_unchanged(loaded.published_path, published_before, may_grow=frozenset())
    assert not loaded.inbox_dir.exists() or not any(loaded.inbox_dir.iterdir())


def test_a_second_writer_waits_for_the_first_then_completes_and_its_copy_appears_only_then(loaded, tmp_path):
    csv = drop_csv(tmp_path, "shootings.csv")
    with another_writer(loaded):
        waiting = start(loaded, "ingest", str(csv), **{LOCK_TIMEOUT_ENV: "120"})
        time.sleep(3)
        assert waiting.poll() is None, waiting.communicate()
        # While it waits, its file is not yet in the inbox, where a scheduled inbox run could take it first.
        assert not loaded.inbox_dir.exists() or not any(loaded.inbox_dir.iterdir())
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert read_rows(loaded.published_path, "SELECT status FROM inbox_files WHERE file_name = 'shootings.csv'") == [
        ("loaded",)
    ]


@pytest.mark.slow
def test_two_refreshes_at_once_both_complete_and_the_documents_load_once(settings, baseline):
    drop_csv(settings.inbox_dir, "shootings.csv")
    first, second = start(settings, "refresh", "--json"), start(settings, "refresh", "--json")
    outcomes = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [err for _, err in outcomes]
    reports = [json.loads(out) for out, _ in outcomes]
    # One of them loaded everything; the other found it all there already (and no file left in the inbox).
    new = sorted(sum(r["new"] for r in report) for report in reports)
    assert new[0] == 0 and new[1] > 0
    assert sorted(len([r for r in report if r["pipeline"] == "inbox"]) for report in reports) == [0, 1]
    # The warehouse holds exactly what one refresh of the same documents holds.
    count = "SELECT COUNT(*) FROM observation_history WHERE pipeline <> 'inbox'"
    assert read_rows(settings.published_path, count) == read_rows(baseline / "octracker.duckdb", count)
    assert read_rows(settings.published_path, "SELECT COUNT(*) FROM observation_history WHERE pipeline = 'inbox'") == [
        (GOOD_ROWS,)
    ]
    statuses = read_rows(settings.published_path, "SELECT status, COUNT(*) FROM runs GROUP BY ALL")
    # The statistics publishers' feeds are offline in tests: their runs are recorded unreachable.
    unreachable = sum(r["status"] == "unreachable" for report in reports for r in report)
    assert dict(statuses) == {"success": len(reports[0]) + len(reports[1]) - unreachable, "unreachable": unreachable}


# Analysts reading while refreshes publish ----------------------------------------------------------------------------

READER = """
import json, pathlib, sys, duckdb
path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
seen, errors = [], []
while not stop.exists():
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            total, current, open_rows = con.execute(
                "SELECT (SELECT COUNT(*) FROM observation_history), (SELECT COUNT(*) FROM observations), "
                "(SELECT COUNT(*) FROM observation_history WHERE valid_to IS NULL)").fetchone()
        finally:
            con.close()
        seen.append(total)
        if current != open_rows:
            errors.append(f"inconsistent copy: {current} observations, {open_rows} open versions")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    if len(seen) + len(errors) == 1:
        print("reading", flush=True)
print(json.dumps({"seen": seen, "errors": errors}))
"""


def test_readers_opening_the_published_copy_during_refreshes_always_get_a_complete_copy(loaded, tmp_path):
    published = [snapshot(loaded.published_path).counts["observation_history"]]
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(loaded.published_path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    # The refreshes start once it reads: its start-up alone can take seconds on a loaded machine.
    assert reader.stdout.readline().strip() == "reading", reader.stderr.read()
    for n in range(3):
        drop_csv(loaded.inbox_dir, f"shootings-{n}.csv")  # a new source each time: +GOOD_ROWS versions
        [result] = refresh(loaded, ["inbox"])
        assert result.status == "success", result.error
        published.append(snapshot(loaded.published_path).counts["observation_history"])
    stop.touch()
    out, err = reader.communicate(timeout=60)
    report = json.loads(out)
    assert report["errors"] == [], report["errors"][:5]
    assert len(report["seen"]) > 10
    # Every count read is one a refresh published, in order: never a copy caught half-way.
    assert set(report["seen"]) <= set(published)
    assert report["seen"] == sorted(report["seen"])
    assert published == [published[0] + n * GOOD_ROWS for n in range(4)]


# A scheduler and manual commands -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_scheduler_firing_every_second_and_manual_refresh_and_ingest_commands_all_complete(loaded_scratch, tmp_path):
    loaded = loaded_scratch
    for spec in loaded.pipelines_dir.glob("*.toml"):
        if spec.stem not in ("oci_2021_belgium", "article_judge_letter"):
            spec.unlink()  # two quick pipelines: the scheduler still holds the warehouse most of the time
    stop, errors = threading.Event(), []

    def scheduler() -> None:
        try:
            run_scheduler(loaded, stop, trigger_for=lambda cron, where: IntervalTrigger(seconds=1))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    thread = threading.Thread(target=scheduler, daemon=True)
    thread.start()
    try:
        time.sleep(2)
        # Files dropped for the scheduler's inbox job, and others handed to `ingest`, all at once.
        for n in range(2):
            drop_csv(loaded.inbox_dir, f"dropped-{n}.csv")
        files = [drop_csv(tmp_path / "downloads", f"given-{n}.csv") for n in range(3)]
        manual = [start(loaded, "ingest", str(f)) for f in files] + [start(loaded, "refresh", "oci_2021_belgium")]
        outcomes = [p.communicate(timeout=300) for p in manual]
        assert [p.returncode for p in manual] == [0] * len(manual), [err for _, err in outcomes]
        deadline = time.monotonic() + 60
        while any(loaded.inbox_dir.glob("dropped-*.csv")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(120)
    assert not errors
    loaded_files = read_rows(
        loaded.warehouse, "SELECT file_name, status, COUNT(*) FROM inbox_files GROUP BY ALL ORDER BY file_name"
    )
    assert loaded_files == [(f"dropped-{n}.csv", "loaded", 1) for n in range(2)] + [
        (f"given-{n}.csv", "loaded", 1) for n in range(3)
    ]
    statuses = dict(read_rows(loaded.warehouse, "SELECT status, COUNT(*) FROM runs GROUP BY ALL"))
    assert set(statuses) - {"unreachable"} == {"success"}, statuses  # feeds are offline in tests
    assert read_rows(loaded.warehouse, "SELECT COUNT(*) FROM runs WHERE trigger = 'schedule'")[0][0] > 0
    assert read_rows(loaded.warehouse, "SELECT COUNT(*) FROM observation_history WHERE pipeline = 'inbox'") == [
        (5 * GOOD_ROWS,)
    ]

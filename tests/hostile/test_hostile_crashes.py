"""Crashes: a refresh killed (SIGKILL) while it loads a large table, and while it publishes the read-only copy.

What must hold afterwards:
- killed while loading: the warehouse opens and holds nothing of that load (the same `observation_history`
  as before); the file still waits in the inbox; the next refresh marks the run `interrupted`, removes the
  half-written files the dead process left in the raw store, and loads the file whole;
- killed between the stages of a first load (committed in stages, see `octracker.store.staging`): readers see
  nothing of it, the next writer removes the stages before anything else, and a refresh then loads the file whole;
- killed while publishing: analysts still open the previous published copy, complete and unchanged; the
  copy being written was never under the published name; the next refresh removes it and publishes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from hostile_fixtures import baseline, child_env, cli, loaded, octracker_command  # noqa: F401
from hostile_inputs import GOOD_CSV, GOOD_ROWS, write_long_parquet
from warehouse_state import GROWS_ON_REFUSAL, assert_unchanged, snapshot

from octracker.content.documents import NAMED_COPY_PREFIX, PARTIAL_SUFFIX
from octracker.extract.long_table import BATCH_ROWS
from octracker.store.warehouse import publish_spare_path

ROWS = 1_000_000


def leftovers(settings) -> list[Path]:
    """What a process that died mid-way leaves: raw-store work files and unrenamed published copies."""
    return [
        *settings.raw_dir.glob(f"*/{NAMED_COPY_PREFIX}*"),
        *settings.raw_dir.glob(f"*/.*{PARTIAL_SUFFIX}"),
        *settings.published_path.parent.glob(".*.tmp"),
    ]


#: `python -m octracker` with each batch of a first load committed as a stage of its own (a table of a million rows is
#: otherwise one stage): the kill then falls between two stages.
STAGE_PER_BATCH = (
    "import sys; from octracker.store import history; history.PARTS_PER_INSERT = 1; "
    "from octracker.cli import main; sys.exit(main())"
)


def start(settings, *args: str, stage_per_batch: bool = False) -> subprocess.Popen:
    command = octracker_command(settings, "--debug", *args)
    if stage_per_batch:
        command[1:3] = ["-c", STAGE_PER_BATCH]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def kill_when_logged(process: subprocess.Popen, needle: str, *, then_wait_s: float, timeout_s: float = 180) -> str:
    """SIGKILL the process `then_wait_s` after its log says `needle`; return the log up to there."""
    deadline = time.monotonic() + timeout_s
    seen = []
    for line in process.stderr:
        seen.append(line)
        if needle in line:
            time.sleep(then_wait_s)
            assert process.poll() is None, "the process finished before it could be killed: load a larger table"
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError("the process ended without logging " + repr(needle) + ":\n" + "".join(seen))


def rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def large_download(settings, tmp_path: Path):
    """A table of ROWS rows to ingest (a first load read in batches), and the warehouse and its published copy as
    they are before it."""
    big = tmp_path / "downloads" / "daily_shootings.parquet"
    big.parent.mkdir()
    assert write_long_parquet(big, ROWS) == ROWS
    return big, snapshot(settings.warehouse), snapshot(settings.published_path)


@pytest.mark.slow
def test_a_refresh_killed_while_loading_a_large_table_loads_nothing_and_the_next_one_completes(loaded, tmp_path):
    big, before, published_before = large_download(loaded, tmp_path)

    # Killed 0.3 s into the load transaction (writing a million rows takes most of a second, and more in CI); a
    # table this large is a first load read in batches.
    log = kill_when_logged(start(loaded, "ingest", str(big)), f"loading {big.name} in batches", then_wait_s=0.3)
    assert "daily_shootings.parquet" in log

    # Consistent: nothing of the load (killed within its one stage: the run is listed as loading in stages, none of
    # its rows committed), the run still says running (nobody has opened the warehouse since), analysts on the
    # previous copy, the file still waiting in the inbox, the dead process's work files there.
    assert_unchanged(loaded.warehouse, before, may_grow=GROWS_ON_REFUSAL | {"staged_runs"})
    [(killed_run,)] = rows(loaded.warehouse, "SELECT run_id FROM runs WHERE status = 'running'")
    assert_unchanged(loaded.published_path, published_before, may_grow=frozenset())
    assert (loaded.inbox_dir / big.name).read_bytes() == big.read_bytes()
    assert leftovers(loaded), "expected the killed process to leave its reading folder in the raw store"

    # The next refresh completes: the run is marked interrupted, the file loaded whole, nothing half-written left.
    result = cli(loaded, "refresh", "--json")
    assert result.exit_code == 0, result.stderr
    [inbox] = [r for r in json.loads(result.stdout) if r["pipeline"] == "inbox"]
    assert (inbox["subject"], inbox["status"], inbox["new"]) == (big.name, "success", ROWS)
    published = loaded.published_path
    assert rows(published, f"SELECT pipeline, status, error FROM runs WHERE run_id = '{killed_run}'") == [
        ("inbox", "interrupted", "the process stopped before the run finished; nothing of it was committed")
    ]
    assert rows(published, "SELECT COUNT(*) FROM runs WHERE status = 'running'") == [(0,)]
    assert rows(published, "SELECT COUNT(*) FROM observations WHERE source_id = 'daily-shootings'") == [(ROWS,)]
    assert leftovers(loaded) == []
    after = snapshot(loaded.warehouse).counts
    assert (after["observation_history"], after["staged_runs"]) == (before.counts["observation_history"] + ROWS, 0)

    # A crash while publishing that big warehouse as a whole copy (without a spare to bring up to date, see
    # tests/store/test_publish.py): stop the publisher when its copy appears, then kill it.
    publish_spare_path(loaded.published_path).unlink(missing_ok=True)
    drop = loaded.inbox_dir / "late.csv"
    drop.write_bytes(GOOD_CSV)
    previous = snapshot(loaded.published_path)
    publisher = start(loaded, "refresh", "inbox")
    partial = wait_for_partial_copy(loaded, publisher)
    publisher.send_signal(signal.SIGKILL)
    publisher.wait(30)
    assert partial.exists(), "the copy was renamed before the kill; nothing was tested"
    # Analysts: the previous copy, whole, under the published name (the load itself committed in the warehouse).
    assert_unchanged(loaded.published_path, previous, may_grow=frozenset())
    assert rows(loaded.warehouse, "SELECT COUNT(*) FROM observation_history") == [
        (previous.counts["observation_history"] + GOOD_ROWS,)
    ]
    # The next refresh cleans up and publishes what was committed. (Quiet: its summary would count the alerts
    # over a million daily rows, which takes far longer than the refresh.)
    assert cli(loaded, "-q", "refresh", "inbox").exit_code == 0
    assert leftovers(loaded) == []
    assert snapshot(loaded.published_path).counts["observation_history"] == (
        previous.counts["observation_history"] + GOOD_ROWS
    )


@pytest.mark.slow
def test_a_first_load_killed_between_its_stages_is_seen_by_no_one_and_the_next_refresh_loads_it_whole(loaded, tmp_path):
    big, before, published_before = large_download(loaded, tmp_path)

    process = start(loaded, "ingest", str(big), stage_per_batch=True)
    kill_when_logged(process, f"stage 2 of the first load of {big.name} committed", then_wait_s=0)

    # The file holds the committed stages, listed as a run's that did not finish (what the kill must leave for this
    # test to test anything)...
    [(staged,)] = rows(
        loaded.warehouse,
        "SELECT COUNT(*) FROM observation_history WHERE run_id IN (SELECT run_id FROM staged_runs)",
    )
    assert 2 * BATCH_ROWS <= staged < ROWS
    # ...and no reader sees them: the published copy is the one before, and so is every command's answer.
    assert_unchanged(loaded.published_path, published_before, may_grow=frozenset())
    result = cli(loaded, "sql", "SELECT COUNT(*) AS n FROM observation_history", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.split() == ["n", str(before.counts["observation_history"])]

    # The next writer, a refresh of another pipeline, removes them first: the warehouse is as before the load (but
    # for that refresh's run and the killed one, now marked interrupted).
    assert cli(loaded, "refresh", "oci_2021_belgium").exit_code == 0
    assert_unchanged(loaded.warehouse, before)
    assert_unchanged(loaded.published_path, published_before)
    assert rows(loaded.published_path, "SELECT status FROM runs WHERE pipeline = 'inbox' AND status <> 'success'") == [
        ("interrupted",)
    ]

    # The file still waits in the inbox: the next refresh loads it whole.
    result = cli(loaded, "refresh", "--json")
    assert result.exit_code == 0, result.stderr
    [inbox] = [r for r in json.loads(result.stdout) if r["pipeline"] == "inbox"]
    assert (inbox["subject"], inbox["status"], inbox["new"]) == (big.name, "success", ROWS)
    assert rows(loaded.published_path, "SELECT COUNT(*) FROM observations WHERE source_id = 'daily-shootings'") == [
        (ROWS,)
    ]
    assert rows(loaded.warehouse, "SELECT COUNT(*) FROM staged_runs") == [(0,)]
    assert snapshot(loaded.warehouse).counts["observation_history"] == before.counts["observation_history"] + ROWS


def wait_for_partial_copy(settings, process: subprocess.Popen, timeout_s: float = 120) -> Path:
    """The publisher's temporary copy, once it appears (polled every millisecond)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = list(settings.published_path.parent.glob(".*.tmp"))
        if found:
            return found[0]
        assert process.poll() is None, "the refresh ended before its copy was seen:\n" + process.stderr.read()
        time.sleep(0.001)
    raise AssertionError("no copy appeared")


def test_a_copy_left_by_a_publisher_that_died_is_never_read_and_is_removed_by_the_next_refresh(loaded):
    published = loaded.published_path
    previous = snapshot(published)
    # What a crash in the middle of the copy leaves: half of a warehouse under a temporary name.
    leftover = published.with_name(f".{published.name}.4242.tmp")
    leftover.write_bytes(loaded.warehouse.read_bytes()[: loaded.warehouse.stat().st_size // 2])
    # Analysts (and `octracker sql`) open the published name: the previous complete copy.
    assert_unchanged(published, previous, may_grow=frozenset())
    result = cli(loaded, "sql", "SELECT COUNT(*) AS n FROM observation_history", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.split() == ["n", str(previous.counts["observation_history"])]
    # The next refresh removes it and publishes a complete copy by a rename: a new file takes the name, so
    # a reader with the old one open keeps reading it (see test_analyst_reading.py).
    old_copy = published.stat().st_ino
    loaded.inbox_dir.mkdir()
    (loaded.inbox_dir / "late.csv").write_bytes(GOOD_CSV)
    assert cli(loaded, "refresh", "inbox").exit_code == 0
    assert not leftover.exists() and leftovers(loaded) == []
    assert published.stat().st_ino != old_copy
    assert snapshot(published).counts["observation_history"] == previous.counts["observation_history"] + GOOD_ROWS


# Out of space while publishing ----------------------------------------------------------------------------------------


def test_out_of_space_while_publishing_leaves_no_partial_copy_prints_the_results_and_says_what_to_do(
    loaded, monkeypatch
):
    import errno
    import shutil

    from published import read_rows

    published = loaded.published_path
    copy_before = published.read_bytes()
    real_copyfile = shutil.copyfile

    def disk_fills_up(source, destination, **kwargs):
        # Half the copy is written, then the disk is full: what a real ENOSPC leaves behind.
        with open(source, "rb") as src, open(destination, "wb") as dst:
            dst.write(src.read(len(copy_before) // 2))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_fills_up)
    result = cli(loaded, "refresh", "oci_2021_belgium")
    assert result.exit_code == 1, result.output
    assert "oci_2021_belgium" in result.stdout  # the results table was printed
    assert "No space left on device" in result.stderr and "the data is committed" in result.stderr
    assert "Free space in" in result.stderr and "run `octracker refresh` again" in result.stderr
    assert "unexpected" not in result.stderr
    assert sorted(p.name for p in published.parent.iterdir()) == [published.name]  # no .tmp left
    assert published.read_bytes() == copy_before
    monkeypatch.setattr(shutil, "copyfile", real_copyfile)
    again = cli(loaded, "refresh", "oci_2021_belgium")
    assert again.exit_code == 0, again.output
    assert read_rows(published, "SELECT COUNT(*) FROM runs") > [(0,)]

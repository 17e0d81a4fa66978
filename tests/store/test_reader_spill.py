"""Readers of the warehouse (`octracker sql`, the read-only commands, `open_reader`) are held to a memory bound and
spill past it to a folder of their process's own, removed when they close: in DuckDB's default folder, shared by every
process reading the published copy, a reader that closed deleted the spill files of another still reading. The folder
a killed process leaves is removed by the next process of the same machine that opens the warehouse, and only that
one: the folder's name says its host, and another host's PIDs mean nothing here."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import REPO, child_env, run_octracker
from octracker.store import spill
from octracker.store.query import LOCKED_CONFIG, locked_reader
from octracker.store.settings import Settings, build_settings
from octracker.store.warehouse import open_reader, open_writer

#: This machine's name as spill folders say it.
HOST = spill.this_host()

#: A reader process that fills a temporary table past a small memory bound (its rows spill), says where it spills,
#: then counts the rows (read back from its spill files) each time it is asked, until its input ends. One thread and a
#: count that streams the table block by block: a COUNT(DISTINCT) builds a hash table of its own, which a 32 MB bound
#: cannot always hold.
SPILLING_READER = """
import sys
from pathlib import Path
from octracker.store import query
query.LOCKED_CONFIG["memory_limit"] = "32MB"
query.LOCKED_CONFIG["threads"] = 1
con = query.open_locked_reader(Path(sys.argv[1]))
con.execute("CREATE TEMP TABLE spilled AS SELECT md5(i::VARCHAR) AS h FROM range(1000000) t(i)")
print(con.execute("SELECT current_setting('temp_directory')").fetchone()[0], flush=True)
for _ in sys.stdin:
    print(con.execute("SELECT COUNT(*) FROM spilled WHERE length(h) = 32").fetchone()[0], flush=True)
"""


#: A process that opens the warehouse for writing, and closes it.
OPEN_WRITER = """
import sys
from octracker.store.settings import build_settings
from octracker.store.warehouse import open_writer
with open_writer(build_settings(project=sys.argv[1], warehouse=sys.argv[2], environ={})):
    pass
"""


def published_settings(tmp_path: Path) -> Settings:
    """A file warehouse whose published copy holds one small table."""
    settings = build_settings(project=REPO, warehouse=tmp_path / "warehouse" / "octracker.duckdb", environ={})
    settings.published_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.published_path)) as con:
        con.execute("CREATE TABLE t AS SELECT 42 AS answer")
    return settings


def start_spilling_reader(settings: Settings) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen(
        [sys.executable, "-c", SPILLING_READER, str(settings.published_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert child.stdout is not None
    folder = Path(child.stdout.readline().strip())
    return child, folder


def spill_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("duckdb_temp_")}


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_reader_is_bounded_and_spills_to_a_folder_of_its_process_own_removed_when_it_closes(tmp_path):
    settings = published_settings(tmp_path)
    with locked_reader(settings.published_path) as con, locked_reader(settings.published_path) as other:
        sql = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        limit, temp = con.execute(sql).fetchone()
        assert limit in ("1.8 GiB", "1.9 GiB", "2.0 GiB")
        folder = Path(temp)
        assert folder.parent == settings.published_path.parent
        assert re.fullmatch(rf"octracker\.duckdb\.{re.escape(HOST)}\.{os.getpid()}-[0-9]+\.tmp", folder.name)
        # Readers of one process share its database, and with it the folder.
        assert other.execute("SELECT current_setting('temp_directory')").fetchone() == (temp,)
        with pytest.raises(duckdb.Error, match="disabled"):
            con.execute("SELECT * FROM read_text(?)", [str(REPO / "README.md")])
    assert not folder.exists()
    assert LOCKED_CONFIG["memory_limit"] == "2GB"


def test_readers_in_two_processes_spill_apart_and_a_killed_ones_folder_goes_at_the_next_open(tmp_path):
    settings = published_settings(tmp_path)
    live, live_folder = start_spilling_reader(settings)
    killed, killed_folder = start_spilling_reader(settings)
    try:
        assert live_folder != killed_folder and live_folder.parent == killed_folder.parent
        assert spill_files(live_folder) and spill_files(killed_folder)
        kept = spill_files(live_folder)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert spill_files(killed_folder)  # DuckDB never got to remove it
        # Folders that are not a dead process's spill folder, or hold more than spill files, are left alone.
        pid = dead_pid()
        published = settings.published_path
        strangers = [
            published.with_name(f"octracker.duckdb.{HOST}.{pid}-1.tmp.bak"),
            published.with_name(f"other.duckdb.{HOST}.{pid}-1.tmp"),
            published.with_name("octracker.duckdb.tmp"),
            # Another machine's, and one of the older name that says no machine: their PIDs are not this one's.
            published.with_name(f"octracker.duckdb.{HOST}x.{pid}-1.tmp"),
            published.with_name(f"octracker.duckdb.{pid}-1.tmp"),
            published.with_name(f"octracker.duckdb.{HOST}.{pid}-2.tmp"),
        ]
        for folder in strangers:
            folder.mkdir()
            (folder / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"")
        (strangers[-1] / "notes.txt").write_text("an operator's notes\n")

        answered = run_octracker(settings, "sql", "SELECT answer FROM t", "--format", "csv")
        assert answered.returncode == 0, answered.stderr
        assert not killed_folder.exists()
        assert all(folder.exists() for folder in strangers)
        # The live reader's spill files are still there, and still read.
        assert spill_files(live_folder) >= kept
        live.stdin.write("count\n")
        live.stdin.flush()
        assert live.stdout.readline().strip() == "1000000"
    finally:
        live.stdin.close()
        live.wait(timeout=60)
        killed.kill()
    assert not live_folder.exists()


def test_a_writer_opening_the_warehouse_removes_the_spill_folders_of_killed_readers(tmp_path):
    settings = published_settings(tmp_path)
    pid = dead_pid()
    left = settings.published_path.with_name(f"octracker.duckdb.{HOST}.{pid}-1.tmp")
    left.mkdir()
    (left / "duckdb_temp_block-4611686018427388032-0.block").write_bytes(b"\0" * 4096)
    opened = subprocess.run(
        [sys.executable, "-c", OPEN_WRITER, str(REPO), str(settings.warehouse)], env=child_env(), capture_output=True
    )
    assert opened.returncode == 0, opened.stderr
    assert not left.exists()


def test_a_lake_reader_spills_beside_the_lake_as_its_writers_do(lake_settings: Settings):
    with open_writer(lake_settings):
        pass
    with locked_reader(lake_settings.read_target) as con, locked_reader(lake_settings.read_target) as other:
        folders = [Path(c.execute("SELECT current_setting('temp_directory')").fetchone()[0]) for c in (con, other)]
        assert folders[0] != folders[1]
        assert all(f.parent == lake_settings.data_dir for f in folders)
    assert not any(f.exists() for f in folders)


def test_a_folder_left_by_an_earlier_process_of_the_same_pid_goes_too(tmp_path):
    """PIDs are used again: a process gone may have had this one's."""
    settings = published_settings(tmp_path)
    left = settings.published_path.with_name(f"octracker.duckdb.{HOST}.{os.getpid()}-7.tmp")
    left.mkdir()
    (left / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"")
    with locked_reader(settings.published_path) as con:
        assert Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0]) != left
        assert not left.exists()


def bound_and_spill(con: duckdb.DuckDBPyConnection) -> tuple[str, Path]:
    limit, temp = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    return limit, Path(temp)


def test_every_reader_of_a_published_copy_has_the_same_bound_and_spill_folder(tmp_path):
    """`open_reader` (not locked down) and the locked readers of one process open one database with one setting."""
    settings = published_settings(tmp_path)
    con = open_reader(settings.published_path)
    try:
        limit, folder = bound_and_spill(con)
        assert limit in ("1.8 GiB", "1.9 GiB", "2.0 GiB")
        assert folder.parent == settings.published_path.parent
        assert folder.name.startswith(f"octracker.duckdb.{HOST}.{os.getpid()}-")
        # It spills there past the bound (a smaller one here; not locked down, it takes SET).
        con.execute("SET memory_limit = '32MB'")
        con.execute("SET threads = 1")
        con.execute("CREATE TEMP TABLE spilled AS SELECT md5(i::VARCHAR) AS h FROM range(1000000) t(i)")
        assert spill_files(folder)
        with locked_reader(settings.published_path) as locked:
            assert bound_and_spill(locked)[1] == folder
    finally:
        con.close()
    assert not folder.exists()


def test_a_lake_reader_not_locked_down_has_the_bound_and_spills_beside_the_lake(lake_settings: Settings):
    with open_writer(lake_settings):
        pass
    con = open_reader(lake_settings.read_target)
    try:
        limit, folder = bound_and_spill(con)
        assert limit in ("1.8 GiB", "1.9 GiB", "2.0 GiB")
        assert folder.parent == lake_settings.data_dir and folder.name.endswith(".tmp")
    finally:
        con.close()


def test_a_spill_folder_says_its_host_and_only_this_hosts_dead_ones_are_removed(tmp_path, monkeypatch):
    """Two machines (or containers) sharing the warehouse folder: one's dead PID may be the other's live process."""
    monkeypatch.setattr(spill.socket, "gethostname", lambda: "CI-Runner.example.org")
    spill.this_host.cache_clear()
    try:
        assert spill.this_host() == "ci-runner_example_org"
        beside = tmp_path / "octracker.duckdb"
        pid = dead_pid()
        mine = tmp_path / f"octracker.duckdb.ci-runner_example_org.{pid}-1.tmp"
        others = tmp_path / f"octracker.duckdb.ci-runner-2.{pid}-1.tmp"
        for folder in (mine, others):
            folder.mkdir()
            (folder / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"")
        made = spill.new_spill_folder(beside)
        assert made.parent == tmp_path
        assert re.fullmatch(rf"octracker\.duckdb\.ci-runner_example_org\.{os.getpid()}-[0-9]+\.tmp", made.name)
        assert not mine.exists() and others.exists()
    finally:
        spill.this_host.cache_clear()


@pytest.mark.parametrize(
    ("host", "safe"),
    [
        ("db-01", "db-01"),
        ("Node.Example.COM", "node_example_com"),
        ("a/b c\\d", "a_b_c_d"),
        ("", "host"),
        ("x" * 300, "x" * 63),
    ],
)
def test_a_host_name_becomes_a_safe_part_of_a_file_name(host, safe):
    assert spill.safe_host_name(host) == safe

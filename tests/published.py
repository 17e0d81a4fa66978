"""Reading a warehouse file in tests the way an analyst does: a read-only connection, closed after the query."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

#: A query DuckDB 1.5.5 could leave waiting forever, every thread idle, deaf to an interrupt: the process is ended.
HANG = 300

#: Reads every row of a query the way the shell and a Python client do: the result streams to the client.
_STREAMED_READ = (
    "import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
    "con.execute('SET enable_progress_bar = false'); print(len(con.execute(sys.argv[2]).fetchall()))"
)


def read_rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of one query on the DuckDB file at `path` (normally the published copy)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def streamed_row_count(path: Path, sql: str) -> int:
    """How many rows `sql` returns on the DuckDB file at `path`, read in another process as its result streams to the
    client; the test fails if no answer comes within HANG seconds (see duckdb/duckdb#22215 in 75_changes.sql)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _STREAMED_READ, str(path), sql], capture_output=True, text=True, timeout=HANG
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{sql}: no answer in {HANG} s")
    assert done.returncode == 0, done.stderr
    return int(done.stdout)

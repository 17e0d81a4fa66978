"""Read-only queries against the published warehouse copy (or a lake), locked down for analysts and tools."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from octracker.errors import InputRefused, OctrackerError
from octracker.store.lake import LakeTarget, connect_lake, describe_attach_error, lake_data_directory

#: Memory one query may use; a query that needs more fails with a message instead of taking the machine.
MEMORY_LIMIT = "2GB"

#: No file access outside the warehouse, no extension loading, bounded memory and spill; settings frozen after.
LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    # Spill files go beside the published copy (inside the warehouse folder), bounded in size.
    "max_temp_directory_size": "2GB",
    "threads": 2,
}


def open_locked_reader(path: Path | LakeTarget) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy that cannot reach files, the network or extensions."""
    if isinstance(path, LakeTarget):
        return open_locked_lake_reader(path)
    if not path.exists():
        raise OctrackerError(f"{path}: no published warehouse yet; run `octracker refresh` first")
    con = duckdb.connect(str(path), read_only=True, config=LOCKED_CONFIG)
    # DuckDB draws a progress bar on stdout for long queries; it would corrupt CSV and JSON output.
    con.execute("SET enable_progress_bar = false")
    con.execute("SET lock_configuration = true")
    return con


def open_locked_lake_reader(target: LakeTarget) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only, then locked: only its own data files stay readable, nothing else attaches."""
    try:
        con = connect_lake(
            target,
            read_only=True,
            config={k: v for k, v in LOCKED_CONFIG.items() if k not in ("enable_external_access",)},
        )
    except duckdb.Error as exc:
        raise OctrackerError(describe_attach_error(target, exc)) from None
    con.execute("SET allowed_directories = ?", [[lake_data_directory(con)]])
    con.execute("SET enable_progress_bar = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


@contextlib.contextmanager
def locked_reader(path: Path | LakeTarget) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_locked_reader` as a context manager that always closes the connection."""
    con = open_locked_reader(path)
    try:
        yield con
    finally:
        con.close()


def describe_duckdb_error(exc: duckdb.Error) -> str:
    """DuckDB's message, with the next move when the cause is the lock-down rather than the query."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.OutOfMemoryException) or message.startswith("Out of Memory"):
        first_line = message.splitlines()[0]
        return (
            f"{first_line} (queries are limited to {MEMORY_LIMIT}; narrow the query with WHERE, fewer columns or LIMIT)"
        )
    return message


def check_one_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse an empty text or several statements: one query in, one result out."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputRefused(describe_duckdb_error(exc)) from None
    if len(statements) != 1:
        found = "no statement" if not statements else f"{len(statements)} statements"
        raise InputRefused(f"give exactly one SQL statement, found {found}")


def run_query(path: Path | LakeTarget, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Run one statement and return (columns, rows); DuckDB's complaint becomes a refused input."""
    with locked_reader(path) as con:
        check_one_statement(con, sql)
        try:
            cursor = con.execute(sql, params or [])
            if cursor.description is None:
                return [], []
            return [d[0] for d in cursor.description], cursor.fetchall()
        except duckdb.Error as exc:
            raise InputRefused(describe_duckdb_error(exc)) from None


def existing_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables and views in the connected warehouse."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL SELECT table_name FROM duckdb_tables()"
    ).fetchall()
    return {r[0] for r in rows}


def relation_exists(path: Path | LakeTarget, name: str) -> bool:
    """Whether a table or view of this name exists in the published copy."""
    with locked_reader(path) as con:
        return name in existing_relations(con)

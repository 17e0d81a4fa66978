"""Read-only queries against the published warehouse copy (or a lake), locked down for analysts and tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from octracker.errors import InputRefused, OctrackerError
from octracker.lake import LakeTarget, connect_lake, describe_attach_error, lake_data_directory

#: No file access outside the warehouse, no extension loading, bounded memory; settings frozen after.
LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": "2GB",
    "threads": 2,
}


def open_locked_reader(path: Path | LakeTarget) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy that cannot reach files, the network or extensions."""
    if isinstance(path, LakeTarget):
        return open_locked_lake_reader(path)
    if not path.exists():
        raise OctrackerError(f"{path}: no published warehouse yet; run `octracker refresh` first")
    con = duckdb.connect(str(path), read_only=True, config=LOCKED_CONFIG)
    con.execute("SET lock_configuration = true")
    return con


def open_locked_lake_reader(target: LakeTarget) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only, then locked: only its own data files stay readable, nothing else attaches."""
    try:
        con = connect_lake(target, read_only=True, config={k: v for k, v in LOCKED_CONFIG.items()
                                                           if k not in ("enable_external_access",)})
    except duckdb.Error as exc:
        raise OctrackerError(describe_attach_error(target, exc)) from None
    con.execute("SET allowed_directories = ?", [[lake_data_directory(con)]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(path: Path | LakeTarget, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Run one statement and return (columns, rows); DuckDB's complaint becomes a refused input."""
    con = open_locked_reader(path)
    try:
        cursor = con.execute(sql, params or [])
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        raise InputRefused(str(exc).strip()) from None
    finally:
        con.close()


def relation_exists(path: Path | LakeTarget, name: str) -> bool:
    """Whether a table or view of this name exists in the published copy."""
    _, rows = run_query(path, "SELECT 1 FROM duckdb_views() WHERE view_name = ? UNION ALL "
                              "SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name, name])
    return bool(rows)

"""Read-only queries against the published warehouse copy, locked down for analysts and tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from octracker.errors import InputRefused, OctrackerError

#: No file access outside the warehouse, no extension loading, bounded memory; settings frozen after.
LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": "2GB",
    "threads": 2,
}


def open_locked_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy that cannot reach files, the network or extensions."""
    if not path.exists():
        raise OctrackerError(f"{path}: no published warehouse yet; run `octracker refresh` first")
    con = duckdb.connect(str(path), read_only=True, config=LOCKED_CONFIG)
    con.execute("SET lock_configuration = true")
    return con


def run_query(path: Path, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
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


def relation_exists(path: Path, name: str) -> bool:
    """Whether a table or view of this name exists in the published copy."""
    _, rows = run_query(path, "SELECT 1 FROM duckdb_views() WHERE view_name = ? UNION ALL "
                              "SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name, name])
    return bool(rows)

"""Reading a warehouse file in tests the way an analyst does: a read-only connection, closed after the query."""

from __future__ import annotations

from pathlib import Path

import duckdb


def read_rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of one query on the DuckDB file at `path` (normally the published copy)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()

"""Reading the one row a query always returns (an aggregate, a catalog function) without guessing it is there."""

from __future__ import annotations

from typing import Any

import duckdb

from octracker.errors import OctrackerError


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    """The row of a query that returns exactly one; a query that returns none is a broken warehouse, said so."""
    row = (con.execute(sql) if params is None else con.execute(sql, params)).fetchone()
    if row is None:
        raise OctrackerError(
            f"the warehouse answered no row to `{' '.join(sql.split())[:80]}`; "
            "it may be damaged: check it with `octracker status`"
        )
    return row


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of the one row a query returns (a COUNT, an EXISTS, a MAX)."""
    return one_row(con, sql, params)[0]

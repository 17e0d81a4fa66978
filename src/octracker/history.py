"""The bitemporal observation history: classify incoming rows and write only what changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from octracker.curation import split_superseded

#: Columns that make one observation (the natural key).
KEY_COLUMNS = ("indicator_id", "geo", "period_start", "period_end", "source_id")
#: Columns whose change makes a new version of an observation.
VALUE_COLUMNS = ("year", "value", "unit", "qualifier", "is_partial", "as_of", "method", "evidence", "note")
CANONICAL_COLUMNS = (*KEY_COLUMNS[:4], "year", "value", "unit", "qualifier", "is_partial", "as_of",
                     "source_id", "method", "evidence", "note")


@dataclass(frozen=True)
class LoadCounts:
    """How the incoming rows compared with what the warehouse already knew."""

    new: int = 0
    revised: int = 0
    unchanged: int = 0
    retracted: int = 0


def _key_match(left: str, right: str) -> str:
    # Periods may be unknown (NULL); a NULL period still identifies one observation.
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in KEY_COLUMNS)


def _same_values(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in VALUE_COLUMNS)


def upsert_observations(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    *,
    pipeline: str,
    run_id: str,
    source_ids: list[str],
    full_snapshot: bool,
    now: dt.datetime,
) -> LoadCounts:
    """Insert new and revised versions, close the versions they replace; the caller owns the transaction.

    With `full_snapshot`, the incoming rows are everything the sources state now, so a current row of
    those sources that is not among them is retracted (closed, never deleted). Rows a curation superseded
    (see `octracker.curation`) are kept as closed versions and never become current.
    """
    current, superseded = split_superseded(frame)
    incoming = current.select(CANONICAL_COLUMNS)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM incoming")
    con.execute("CREATE OR REPLACE TEMP TABLE _scope (source_id VARCHAR)")
    con.executemany("INSERT INTO _scope VALUES (?)", [[s] for s in source_ids])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _classified AS
        SELECT i.*,
               CASE WHEN h.indicator_id IS NULL THEN 'new'
                    WHEN {_same_values('i', 'h')} THEN 'unchanged'
                    ELSE 'revised' END AS change
        FROM _incoming AS i
        LEFT JOIN (SELECT * FROM observation_history
                   WHERE valid_to IS NULL AND source_id IN (SELECT source_id FROM _scope)) AS h
          ON {_key_match('i', 'h')}
        """
    )
    counts = dict(con.execute("SELECT change, COUNT(*) FROM _classified GROUP BY change").fetchall())
    retracted = 0
    if full_snapshot:
        retracted = con.execute(
            f"""
            SELECT COUNT(*) FROM observation_history AS h
            WHERE h.valid_to IS NULL AND h.source_id IN (SELECT source_id FROM _scope)
              AND NOT EXISTS (SELECT 1 FROM _incoming AS i WHERE {_key_match('i', 'h')})
            """
        ).fetchone()[0]
        if retracted:
            con.execute(
                f"""
                UPDATE observation_history AS h SET valid_to = ?
                WHERE h.valid_to IS NULL AND h.source_id IN (SELECT source_id FROM _scope)
                  AND NOT EXISTS (SELECT 1 FROM _incoming AS i WHERE {_key_match('i', 'h')})
                """,
                [now],
            )
    if counts.get("revised"):
        con.execute(
            f"""
            UPDATE observation_history AS h SET valid_to = ?
            FROM (SELECT * FROM _classified WHERE change = 'revised') AS i
            WHERE h.valid_to IS NULL AND {_key_match('i', 'h')}
            """,
            [now],
        )
    if counts.get("new") or counts.get("revised"):
        columns = ", ".join(CANONICAL_COLUMNS)
        con.execute(
            f"""
            INSERT INTO observation_history ({columns}, pipeline, run_id, valid_from, valid_to)
            SELECT {columns}, ?, ?, ?, NULL FROM _classified WHERE change <> 'unchanged'
            """,
            [pipeline, run_id, now],
        )
    con.execute("DROP TABLE _incoming; DROP TABLE _classified; DROP TABLE _scope")
    retracted += record_superseded(con, superseded, pipeline=pipeline, run_id=run_id, now=now)
    return LoadCounts(
        new=counts.get("new", 0),
        revised=counts.get("revised", 0),
        unchanged=counts.get("unchanged", 0),
        retracted=retracted,
    )


def record_superseded(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, *, pipeline: str, run_id: str, now: dt.datetime,
) -> int:
    """Keep rows as their source states them, after a curation replaced them: closed, never current.

    A current version of such a row is closed; unless the newest version already says the same, the row
    is written as a version that opens and closes at `now` (the warehouse learned the claim and replaced it
    in one run), so `observation_history` shows the original claim with the curation's reason, while
    "what did we know on date X" never returns it. Returns how many current versions were closed.
    """
    if frame.is_empty():
        return 0
    claims = frame.select(CANONICAL_COLUMNS)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE OR REPLACE TEMP TABLE _claims AS SELECT * FROM claims")
    open_claim = f"h.valid_to IS NULL AND EXISTS (SELECT 1 FROM _claims AS c WHERE {_key_match('c', 'h')})"
    closed = con.execute(f"SELECT COUNT(*) FROM observation_history AS h WHERE {open_claim}").fetchone()[0]
    if closed:
        con.execute(f"UPDATE observation_history AS h SET valid_to = ? WHERE {open_claim}", [now])
    columns = ", ".join(CANONICAL_COLUMNS)
    partition = ", ".join(KEY_COLUMNS)
    con.execute(
        f"""
        INSERT INTO observation_history ({columns}, pipeline, run_id, valid_from, valid_to)
        SELECT {columns}, ?, ?, ?, ? FROM _claims AS c
        WHERE NOT EXISTS (
            SELECT 1 FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY valid_from DESC) AS newest
                FROM observation_history
                WHERE source_id IN (SELECT source_id FROM _claims)
            ) AS h
            WHERE h.newest = 1 AND {_key_match('c', 'h')} AND {_same_values('c', 'h')}
        )
        """,
        [pipeline, run_id, now, now],
    )
    con.execute("DROP TABLE _claims")
    return closed

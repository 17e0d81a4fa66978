"""Versions written straight into a warehouse's history, for cases the writer cannot make (a version valid in the past,
a row as an older engine left it), stored as the writer stores them: each load once in `loads`, the versions in
`observation_versions` (migration 0019; each with its own unit and qualifier, its load holding no usual ones: migration
0021), each series' text key once in `series_keys` (migration 0020);
`observation_history` shows them with the columns given."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb


def insert_history(con: duckdb.DuckDBPyConnection, rows: str, params: Sequence[object] = ()) -> None:
    """Insert `rows`, the tail of an INSERT into `observation_history` as it was a table: `(columns) VALUES ...` or
    `(columns) SELECT ...`; the columns left out are NULL."""
    con.execute("CREATE OR REPLACE TEMP TABLE _given AS SELECT * FROM observation_history LIMIT 0")
    try:
        con.execute(f"INSERT INTO _given {rows}", list(params))
        con.execute(
            """
            INSERT INTO loads
            SELECT (hash(run_id, pipeline, source_id, method, citation, valid_from) >> 1)::BIGINT, run_id, pipeline,
                   source_id, method, citation, valid_from, NULL, NULL
            FROM (SELECT DISTINCT run_id, pipeline, source_id, method,
                         CASE WHEN evidence_row IS NOT NULL THEN evidence END AS citation, valid_from FROM _given) AS g
            WHERE NOT EXISTS (
                SELECT 1 FROM loads AS l
                WHERE l.load_id = (hash(g.run_id, g.pipeline, g.source_id, g.method, g.citation, g.valid_from) >> 1)
            )
            """
        )
        con.execute(
            """
            INSERT INTO series_keys
            SELECT (SELECT COALESCE(MAX(series_id), 0) FROM series_keys)
                   + ROW_NUMBER() OVER (ORDER BY indicator_id, geo), indicator_id, geo
            FROM (SELECT DISTINCT indicator_id, geo FROM _given) AS g
            ANTI JOIN series_keys USING (indicator_id, geo)
            """
        )
        con.execute(
            """
            INSERT INTO observation_versions
            SELECT k.series_id, g.period_start, g.period_end, g.year, g.value, g.unit, g.qualifier,
                   g.is_partial, g.as_of, NULLIF(g.evidence, l.citation), g.note, l.load_id, g.valid_to, g.row_hash,
                   g.flags, g.evidence_row
            FROM _given AS g
            JOIN series_keys AS k USING (indicator_id, geo)
            JOIN loads AS l
              ON l.run_id = g.run_id AND l.pipeline = g.pipeline AND l.source_id = g.source_id AND l.method = g.method
             AND l.valid_from = g.valid_from
             AND l.citation IS NOT DISTINCT FROM CASE WHEN g.evidence_row IS NOT NULL THEN g.evidence END
            """
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _given")

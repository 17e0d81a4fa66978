"""Migration 0020 keeps each series' text key once, in `series_keys`, and the versions name it by id: a warehouse made
before it reads the same history after it, on a file and on a lake, and its writers go on from there."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from conftest import migrations_before
from octracker.store.history import upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, open_writer
from octracker.store.writers import write_transaction

pytestmark = pytest.mark.usefixtures("backend")

CITATION = "statistics.parquet (sha256 " + "ab" * 32 + ") row"
#: Loads as a warehouse of 0019 holds them: a prose source revised once, a table read by reference.
LOADS = [
    (1, "run-1", "articles", "press", "parsed", None, "2026-01-01 10:00:00"),
    (2, "run-2", "articles", "press", "parsed", None, "2026-02-01 10:00:00"),
    (3, "run-3", "stats", "stats", "parsed", CITATION, "2026-01-01 11:00:00"),
]
#: Versions in the order they were stored: NL's homicides first, then the shootings of BE-BRU, then BE's homicides.
VERSIONS = [
    ("homicides", "NL", 2023, 120.0, None, 3, None, 2, "provisional", "p"),
    ("shootings", "BE-BRU", 2023, 90.0, "The police counted 90 shootings.", 1, "2026-02-01 10:00:00", None, None, None),
    ("shootings", "BE-BRU", 2023, 92.0, "The police now count 92 shootings.", 2, None, None, None, None),
    ("homicides", "BE", 2023, 150.0, None, 3, None, 1, None, None),
    ("homicides", "NL", 2022, 118.0, None, 3, None, 3, None, None),
]
#: The history as the view of 0019 showed it.
HISTORY_0019 = """
SELECT v.indicator_id, v.geo, v.period_start, v.period_end, v.year, v.value, v.unit, v.qualifier, v.is_partial,
       v.as_of, l.source_id, l.method, COALESCE(v.evidence, l.citation) AS evidence, v.note, l.pipeline, l.run_id,
       l.valid_from, v.valid_to, v.row_hash, v.flags, v.evidence_row
FROM observation_versions AS v JOIN loads AS l USING (load_id)
"""


def test_the_history_reads_the_same_once_each_series_is_named_by_id(settings, tmp_path):
    before = migrations_before(settings.migrations_dir, tmp_path / "migrations_before", "0020")
    with open_writer(settings) as con:
        apply_migrations(con, before)
        con.executemany("INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?)", LOADS)
        con.executemany(
            "INSERT INTO observation_versions (indicator_id, geo, year, value, unit, qualifier, is_partial, evidence, "
            "load_id, valid_to, evidence_row, note, flags) "
            "VALUES (?, ?, ?, ?, 'count', 'exact', false, ?, ?, ?, ?, ?, ?)",
            VERSIONS,
        )
        held = sorted(con.execute(HISTORY_0019).fetchall(), key=repr)

        assert apply_migrations(con, settings.migrations_dir) == ["0020_series_keys.sql", "0021_load_units.sql"]
        apply_views(con, settings.views_dir)

        assert sorted(con.execute("SELECT * FROM observation_history").fetchall(), key=repr) == held
        # Numbered in the order the stored versions first state each series.
        assert con.execute("SELECT series_id, indicator_id, geo FROM series_keys ORDER BY series_id").fetchall() == [
            (1, "homicides", "NL"),
            (2, "shootings", "BE-BRU"),
            (3, "homicides", "BE"),
        ]
        assert [row[0] for row in con.execute("SELECT series_id FROM observation_versions").fetchall()] == [
            1,
            2,
            2,
            3,
            1,
        ]

        # A writer goes on from there: a revised value of a known series, a new series numbered after the others.
        frame = pl.DataFrame(
            {
                "indicator_id": ["homicides", "homicides"],
                "geo": ["BE", "LU"],
                "period_start": [dt.date(2023, 1, 1)] * 2,
                "period_end": [dt.date(2023, 12, 31)] * 2,
                "year": [2023, 2023],
                "value": [151.0, 12.0],
                "unit": ["count", "count"],
                "qualifier": ["exact", "exact"],
                "is_partial": [False, False],
                "as_of": [None, None],
                "source_id": ["stats2", "stats2"],
                "method": ["parsed", "parsed"],
                "evidence": ["line 1", "line 2"],
                "note": [None, None],
            },
            schema_overrides={"as_of": pl.Date, "note": pl.String},
        )
        now = dt.datetime(2026, 3, 1, 12)
        counts = write_transaction(
            con,
            lambda: upsert_observations(
                con, frame, pipeline="stats2", run_id="run-4", source_ids=["stats2"], full_snapshot=True, now=now
            ),
            what="a load after the migration",
        )
        assert counts.new == 2
        assert con.execute("SELECT series_id, indicator_id, geo FROM series_keys WHERE series_id > 3").fetchall() == [
            (4, "homicides", "LU")
        ]
        current = con.execute(
            "SELECT indicator_id, geo, value FROM observation_history WHERE source_id = 'stats2' ORDER BY geo"
        ).fetchall()
        assert current == [("homicides", "BE", 151.0), ("homicides", "LU", 12.0)]

"""The bitemporal history on a real warehouse (DuckDB file and DuckLake): new, unchanged, revised and retracted rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from octracker.history import upsert_observations
from octracker.warehouse import apply_migrations, apply_views, open_writer

pytestmark = pytest.mark.usefixtures("backend")

T1 = dt.datetime(2026, 1, 1, 12, 0)
T2 = dt.datetime(2026, 2, 1, 12, 0)
T3 = dt.datetime(2026, 3, 1, 12, 0)


def rows(**changes) -> pl.DataFrame:
    base = {
        "indicator_id": ["shootings", "shootings", "homicide_rate_per_100k"],
        "geo": ["BE-BRU", "BE-BRU", "US"],
        "period_start": [dt.date(2024, 1, 1), dt.date(2025, 1, 1), None],
        "period_end": [dt.date(2024, 12, 31), dt.date(2025, 12, 31), None],
        "year": [2024, 2025, None],
        "value": [92.0, 60.0, 6.8],
        "unit": ["count", "count", "per 100,000 people"],
        "qualifier": ["exact", "lower_bound", "exact"],
        "is_partial": [False, True, False],
        "as_of": [None, None, None],
        "source_id": ["s1", "s1", "s1"],
        "method": ["parsed"] * 3,
        "evidence": ["e1", "e2", "e3"],
        "note": [None, None, None],
    }
    base.update(changes)
    return pl.DataFrame(base, schema_overrides={"year": pl.Int32, "as_of": pl.Date})


@pytest.fixture
def con(settings):
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        yield con


def load(con, frame, now, full_snapshot=True):
    return upsert_observations(con, frame, pipeline="p", run_id=str(now), source_ids=["s1"],
                               full_snapshot=full_snapshot, now=now)


def test_first_load_is_new_and_second_is_unchanged_with_no_new_versions(con):
    first = load(con, rows(), T1)
    assert (first.new, first.revised, first.unchanged) == (3, 0, 0)
    second = load(con, rows(), T2)
    assert (second.new, second.revised, second.unchanged, second.retracted) == (0, 0, 3, 0)
    assert con.execute("SELECT COUNT(*) FROM observation_history").fetchone()[0] == 3


def test_changed_value_closes_old_version_and_current_view_shows_new(con):
    load(con, rows(), T1)
    counts = load(con, rows(value=[92.0, 89.0, 6.8]), T2)
    assert (counts.new, counts.revised, counts.unchanged) == (0, 1, 2)
    versions = con.execute(
        "SELECT value, valid_from, valid_to FROM observation_history WHERE year = 2025 ORDER BY valid_from"
    ).fetchall()
    assert versions == [(60.0, T1, T2), (89.0, T2, None)]
    assert con.execute("SELECT value FROM observations WHERE year = 2025").fetchall() == [(89.0,)]


def test_what_was_known_at_a_time_is_one_query(con):
    load(con, rows(), T1)
    load(con, rows(value=[92.0, 89.0, 6.8]), T3)
    known_at = con.execute(
        "SELECT value FROM observation_history WHERE year = 2025 AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?)", [T2, T2]
    ).fetchall()
    assert known_at == [(60.0,)]


def test_unknown_period_is_one_observation_not_a_new_one_each_run(con):
    load(con, rows(), T1)
    load(con, rows(), T2)
    assert con.execute("SELECT COUNT(*) FROM observation_history WHERE year IS NULL").fetchone()[0] == 1


def test_row_no_longer_stated_by_a_full_snapshot_is_retracted_not_deleted(con):
    load(con, rows(), T1)
    counts = load(con, rows().head(2), T2)
    assert counts.retracted == 1
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 2
    assert con.execute("SELECT valid_to FROM observation_history WHERE year IS NULL").fetchone()[0] == T2


def test_partial_load_keeps_rows_it_does_not_mention(con):
    load(con, rows(), T1)
    counts = load(con, rows().head(1), T2, full_snapshot=False)
    assert (counts.unchanged, counts.retracted) == (1, 0)
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 3

"""Periods several sources state (`multi_source_periods`), kept in step by every writer, and `series` built on it.

After each write the listed periods must be exactly those two or more sources state now; `series` then ranks
the sources of those periods and passes every other value as its period's only one.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from conftest import migrations_before
from octracker.content.curation import SUPERSEDED
from octracker.store.history import periods_gained, upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, open_writer

pytestmark = pytest.mark.usefixtures("backend")

T1, T2, T3, T4 = (dt.datetime(2026, 1, d, 12, 0) for d in (1, 2, 3, 4))
PRECEDENCE = {"city": 10, "police": 50, "press-a": 20, "press-b": 20}


def year(y: int, value: float, source: str, **extra) -> dict:
    return {
        "indicator_id": "shootings",
        "geo": "BE-BRU",
        "period_start": dt.date(y, 1, 1),
        "period_end": dt.date(y, 12, 31),
        "year": y,
        "value": value,
        "unit": "count",
        "qualifier": "exact",
        "is_partial": False,
        "as_of": None,
        "source_id": source,
        "method": "parsed",
        "evidence": f"{source} says {value:g} for {y}",
        "note": None,
        **extra,
    }


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema_overrides={"year": pl.Int32, "as_of": pl.Date, "note": pl.String})


@pytest.fixture
def con(settings):
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        for source, precedence in PRECEDENCE.items():
            con.execute(
                "INSERT INTO sources "
                "(source_id, kind, published_precision, sha256, retrieved_at, pipeline, precedence) "
                "VALUES (?, 'article', 'unknown', ?, ?, 'p', ?)",
                [source, "0" * 64, T1, precedence],
            )
        yield con


def load(con, rows: pl.DataFrame, now: dt.datetime, *, sources: list[str] | None = None, full_snapshot=True):
    sources = sources or rows["source_id"].unique().to_list()
    upsert_observations(
        con, rows, pipeline="p", run_id=str(now), source_ids=sources, full_snapshot=full_snapshot, now=now
    )
    # Whatever the writer did, the list is what the current rows say.
    assert listed(con) == counted(con)


def listed(con) -> set[int]:
    return {r[0] for r in con.execute("SELECT year(period_start) FROM multi_source_periods").fetchall()}


def counted(con) -> set[int]:
    return {
        r[0]
        for r in con.execute(
            "SELECT year(period_start) FROM observation_history WHERE valid_to IS NULL AND period_start IS NOT NULL "
            "GROUP BY indicator_id, geo, period_start, period_end HAVING COUNT(*) > 1"
        ).fetchall()
    }


def series(con) -> dict[int, tuple[float, str, int]]:
    rows = con.execute("SELECT year, value, source_id, n_sources FROM series").fetchall()
    assert len(rows) == len({r[0] for r in rows}), f"one row per period in series: {rows}"
    return {y: (v, s, n) for y, v, s, n in rows}


def conflicts(con) -> list[tuple]:
    return con.execute("SELECT year, source_ids FROM source_conflicts ORDER BY year").fetchall()


def test_a_period_is_listed_while_two_sources_state_it_and_series_ranks_only_those(con):
    load(con, frame(year(2024, 90, "city"), year(2025, 60, "city")), T1)
    assert listed(con) == set()
    assert series(con) == {2024: (90.0, "city", 1), 2025: (60.0, "city", 1)}

    # The police (higher precedence) state 2024 otherwise: the series takes their value and names the conflict.
    load(con, frame(year(2024, 92, "police")), T2)
    assert listed(con) == {2024}
    assert series(con) == {2024: (92.0, "police", 2), 2025: (60.0, "city", 1)}
    assert conflicts(con) == [(2024, ["city", "police"])]

    # A revised value keeps the period shared.
    load(con, frame(year(2024, 95, "police")), T3)
    assert listed(con) == {2024}
    assert series(con)[2024] == (95.0, "police", 2)

    # The police table no longer holds 2024 (a full snapshot retracts it): the city's value is the only one again.
    load(con, frame(year(2023, 80, "police")), T4)
    assert listed(con) == set()
    assert series(con) == {2023: (80.0, "police", 1), 2024: (90.0, "city", 1), 2025: (60.0, "city", 1)}
    assert conflicts(con) == []


def test_sources_written_together_can_share_a_period_between_themselves(con):
    load(con, frame(year(2025, 60, "press-a"), year(2025, 61, "press-b"), year(2024, 7, "press-a")), T1)
    assert listed(con) == {2025}
    # Equal precedence and no publication dates: the stable tie-break is the source id.
    assert series(con)[2025] == (60.0, "press-a", 2)
    assert series(con)[2024] == (7.0, "press-a", 1)


def test_a_delta_adds_a_shared_period_and_keeps_the_others(con):
    load(con, frame(year(2024, 90, "city"), year(2025, 60, "city")), T1)
    load(con, frame(year(2025, 64, "police")), T2, full_snapshot=False)
    load(con, frame(year(2024, 91, "police")), T3, full_snapshot=False)
    assert listed(con) == {2024, 2025}
    assert {y: s for y, (_, s, _) in series(con).items()} == {2024: "police", 2025: "police"}


def test_a_curation_that_supersedes_a_claim_can_end_a_shared_period(con):
    load(con, frame(year(2024, 90, "city"), year(2025, 60, "city")), T1)
    load(con, frame(year(2024, 92, "police")), T2)
    assert listed(con) == {2024}
    # A curation moves the police's 2024 figure to another place: the claim is kept closed, the period
    # is the city's alone again. (As a delta, so that it is the curation, not a snapshot, that closes it.)
    moved = frame(year(2024, 92, "police", geo="BE-VAN", method="curated", note="moved"), year(2024, 92, "police"))
    moved = moved.with_columns(pl.Series(SUPERSEDED, [False, True]))
    load(con, moved, T3, full_snapshot=False)
    assert listed(con) == set()
    assert con.execute("SELECT geo, source_id, n_sources FROM series WHERE year = 2024 ORDER BY geo").fetchall() == [
        ("BE-BRU", "city", 1),
        ("BE-VAN", "police", 1),
    ]


@pytest.mark.one_backend
def test_the_migration_lists_the_shared_periods_of_an_existing_warehouse(settings, tmp_path):
    before = migrations_before(settings.migrations_dir, tmp_path / "migrations_before", "0008")
    with open_writer(settings) as con:
        apply_migrations(con, before)
        stated = frame(year(2024, 90, "city"), year(2024, 92, "police"), year(2025, 60, "city"))  # noqa: F841
        con.execute(
            "INSERT INTO observation_history (indicator_id, geo, period_start, period_end, year, value, "
            "unit, qualifier, is_partial, as_of, source_id, method, evidence, note, pipeline, run_id, "
            "valid_from) SELECT *, 'p', 'r', TIMESTAMP '2026-01-01' FROM stated"
        )
        assert apply_migrations(con, settings.migrations_dir)[0] == "0008_multi_source_periods.sql"
        assert listed(con) == {2024}


def test_a_failing_upkeep_reports_its_own_error_not_the_aborted_transaction(con):
    """A statement that fails in the writer's transaction aborts it, and DuckDB refuses every statement after it
    until the rollback, the cleanup's too: the error raised must still be the failing statement's own."""
    load(con, frame(year(2020, 10.0, "police")), T1)
    con.execute("BEGIN TRANSACTION")
    try:
        # Rows whose period cannot be read: the upkeep's first query does not read it, its join on the period
        # fails while it runs.
        with pytest.raises(duckdb.ConversionException, match="BE-BRU"):
            periods_gained(
                con,
                "SELECT indicator_id, geo, CAST(geo AS DATE) AS period_start, period_end FROM observation_history",
                ["city"],
            )
    finally:
        con.execute("ROLLBACK")

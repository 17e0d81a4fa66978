"""A load keeps its usual unit and qualifier once (migration 0021): every version still reads its own, whether its load
wrote it in one step or in parts, whatever its neighbours state, on a file and on a lake; a warehouse made before the
migration reads the same history after it, and its writers go on from there."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from conftest import migrations_before
from octracker.extracts import Extract
from octracker.store.history import insert_first_versions, upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, open_writer
from octracker.store.writers import write_transaction

pytestmark = pytest.mark.usefixtures("backend")

T1 = dt.datetime(2026, 1, 1, 12)
T2 = dt.datetime(2026, 2, 1, 12)
T3 = dt.datetime(2026, 3, 1, 12)


def years(units: list[str], qualifiers: list[str], *, source: str = "stats", first_year: int = 2001) -> pl.DataFrame:
    """One series' yearly values, one per unit given, from `first_year` on."""
    n = len(units)
    return pl.DataFrame(
        {
            "indicator_id": ["seized_drugs"] * n,
            "geo": ["BE"] * n,
            "period_start": [dt.date(first_year + i, 1, 1) for i in range(n)],
            "period_end": [dt.date(first_year + i, 12, 31) for i in range(n)],
            "year": [first_year + i for i in range(n)],
            "value": [float(i) for i in range(n)],
            "unit": units,
            "qualifier": qualifiers,
            "is_partial": [False] * n,
            "as_of": [None] * n,
            "source_id": [source] * n,
            "method": ["parsed"] * n,
            "evidence": [f"line {i}" for i in range(n)],
            "note": [None] * n,
            "flags": [None] * n,
        },
        schema_overrides={"year": pl.Int32, "as_of": pl.Date, "note": pl.String, "flags": pl.String},
    )


def stated(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("year", "unit", "qualifier").iter_rows())


def history(con, source: str = "stats") -> list[tuple]:
    return con.execute(
        "SELECT year, unit, qualifier FROM observation_history WHERE source_id = ? AND valid_to IS NULL ORDER BY year",
        [source],
    ).fetchall()


def upsert(con, frame, now, source="stats"):
    return write_transaction(
        con,
        lambda: upsert_observations(
            con, frame, pipeline=source, run_id=str(now), source_ids=[source], full_snapshot=True, now=now
        ),
        what="a load",
    )


def test_each_version_reads_its_own_unit_and_qualifier_among_a_load_of_mostly_one(con):
    frame = years(["count", "count", "tonnes", "count"], ["exact", "approx", "exact", "exact"])
    assert upsert(con, frame, T1).new == 4

    assert history(con) == stated(frame)
    assert con.execute("SELECT COUNT(*) FROM observations WHERE unit IS NULL OR qualifier IS NULL").fetchone() == (0,)
    # Kept once: the load holds the usual unit and qualifier, a version only what differs from them.
    assert con.execute("SELECT unit, qualifier FROM loads").fetchall() == [("count", "exact")]
    assert sorted(con.execute("SELECT unit, qualifier FROM observation_versions").fetchall(), key=repr) == sorted(
        [(None, None), (None, "approx"), ("tonnes", None), (None, None)], key=repr
    )


def test_the_same_rows_again_are_unchanged_and_a_changed_unit_is_a_revision(con):
    frame = years(["count", "count", "tonnes"], ["exact", "exact", "exact"])
    upsert(con, frame, T1)

    again = upsert(con, frame, T2)
    assert (again.new, again.revised, again.unchanged) == (0, 0, 3)

    # The odd one out now states the usual unit, and another a new one: two revisions, read back as stated.
    revised = years(["count", "kg", "count"], ["exact", "exact", "exact"])
    counts = upsert(con, revised, T3)
    assert (counts.new, counts.revised, counts.unchanged) == (0, 2, 1)
    assert history(con) == stated(revised)
    assert con.execute(
        "SELECT year, unit FROM observation_history WHERE valid_to IS NOT NULL ORDER BY year"
    ).fetchall() == [(2002, "count"), (2003, "tonnes")]


def test_a_first_load_in_parts_reads_back_each_part_as_stated(con):
    # The first part is all one unit; a later one states mostly another.
    parts = [
        years(["count"] * 3, ["exact"] * 3),
        years(["tonnes", "count", "tonnes"], ["approx", "exact", "exact"], first_year=2010),
    ]
    constant = {"source_id": "stats", "method": "parsed"}
    write_transaction(
        con,
        lambda: insert_first_versions(
            con, iter([Extract(p, constant=constant) for p in parts]), pipeline="stats", run_id="run-1", now=T1
        ),
        what="a first load",
    )
    assert history(con) == stated(pl.concat(parts))


def test_a_version_without_a_unit_is_refused_not_read_as_its_loads(con):
    frame = years(["count", "count"], ["exact", "exact"]).with_columns(unit=pl.Series([None, "count"], dtype=pl.String))
    with pytest.raises(ValueError, match="no unit"):
        write_transaction(
            con,
            lambda: insert_first_versions(
                con,
                iter([Extract(frame, constant={"source_id": "stats", "method": "parsed"})]),
                pipeline="stats",
                run_id="run-1",
                now=T1,
            ),
            what="a first load",
        )
    with pytest.raises(ValueError, match="no unit"):
        upsert(con, pl.concat([years(["count"], ["exact"], source="other"), frame]), T1, source="other")
    assert con.execute("SELECT COUNT(*) FROM observation_history").fetchone() == (0,)


def test_a_warehouse_made_before_reads_the_same_after_the_migration_and_goes_on(settings, tmp_path):
    before = migrations_before(settings.migrations_dir, tmp_path / "migrations_before", "0021")
    with open_writer(settings) as con:
        apply_migrations(con, before)
        # Stored as the writer before the migration stored them: each version with its own unit and qualifier.
        con.execute("INSERT INTO loads VALUES (1, 'run-1', 'stats', 'stats', 'parsed', NULL, ?)", [T1])
        con.execute("INSERT INTO series_keys VALUES (1, 'seized_drugs', 'BE')")
        con.executemany(
            "INSERT INTO observation_versions (series_id, period_start, period_end, year, value, unit, qualifier, "
            "is_partial, evidence, load_id) VALUES (1, ?, ?, ?, ?, ?, ?, false, ?, 1)",
            [
                (dt.date(2001, 1, 1), dt.date(2001, 12, 31), 2001, 0.0, "count", "exact", "line 0"),
                (dt.date(2002, 1, 1), dt.date(2002, 12, 31), 2002, 1.0, "tonnes", "approx", "line 1"),
            ],
        )
        held = con.execute("SELECT year, unit, qualifier FROM observation_versions ORDER BY year").fetchall()

        assert apply_migrations(con, settings.migrations_dir) == ["0021_load_units.sql"]
        apply_views(con, settings.views_dir)

        assert history(con) == held
        assert con.execute("SELECT unit, qualifier FROM loads").fetchall() == [(None, None)]
        # The writers go on from there: the same values unchanged, a revised unit a revision.
        frame = years(["count", "tonnes"], ["exact", "approx"])
        assert upsert(con, frame, T2).unchanged == 2
        counts = upsert(con, years(["count", "count"], ["exact", "approx"]), T3)
        assert (counts.revised, counts.unchanged) == (1, 1)
        assert history(con) == [(2001, "count", "exact"), (2002, "count", "approx")]

"""The change log: the `changes` view says what each refresh added, revised and retracted, with its source."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from octracker.cli.refresh import changes_line, counted_changes
from octracker.load.pipeline import refresh
from octracker.store.history import upsert_observations
from octracker.store.query import existing_relations, locked_reader
from octracker.store.warehouse import apply_migrations, apply_views, open_writer
from published import read_rows, streamed_row_count

CASES = Path(__file__).resolve().parents[1] / "cases" / "inbox"
FIRST = (CASES / "shootings_2024_final.csv").read_bytes()
# The same source a week later: 2024 revised from 92 to 95 and 2022 added (2023 stated again on another line).
SECOND = b"""indicator,geo,period,value,unit,qualifier,as_of,source_url,note
shootings,BE-BRU,2022,48,count,exact,,,
shootings,BE-BRU,2023,61,count,exact,,,
shootings,BE-BRU,2024,95,count,exact,,,corrected
shooting_deaths,BE-BRU,2024,9,count,exact,,,final
"""


def drop(settings, content: bytes) -> None:
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "shootings.csv").write_bytes(content)


def changes(settings, where: str = "true") -> list[tuple]:
    return read_rows(
        settings.published_path,
        "SELECT run_id, change, indicator_id, geo, year, old_value, new_value, source_id FROM changes "
        f"WHERE {where} ORDER BY changed_at, change, indicator_id, year",
    )


def test_a_first_load_is_all_new_and_a_later_one_lists_only_what_moved(settings):
    drop(settings, FIRST)
    [first] = refresh(settings, ["inbox"])
    assert changes(settings) == [
        (first.run_id, "new", "shooting_deaths", "BE-BRU", 2024, None, 9.0, "shootings"),
        (first.run_id, "new", "shootings", "BE-BRU", 2023, None, 61.0, "shootings"),
        (first.run_id, "new", "shootings", "BE-BRU", 2024, None, 92.0, "shootings"),
    ]
    drop(settings, SECOND)
    [second] = refresh(settings, ["inbox"])
    # Rows stated again unchanged keep their versions (read under the same rules, they are not read again) ...
    assert (second.counts.new, second.counts.revised, second.counts.unchanged) == (1, 1, 2)
    assert read_rows(
        settings.published_path,
        "SELECT rows_new, rows_revised, rows_unchanged FROM runs WHERE run_id = ?",
        [second.run_id],
    ) == [(1, 1, 2)]
    # ... and the change log lists what moved.
    assert changes(settings, f"run_id = '{second.run_id}'") == [
        (second.run_id, "new", "shootings", "BE-BRU", 2022, None, 48.0, "shootings"),
        (second.run_id, "revised", "shootings", "BE-BRU", 2024, 92.0, 95.0, "shootings"),
    ]


def test_a_refresh_that_changes_nothing_adds_no_change(settings):
    drop(settings, FIRST)
    refresh(settings, ["inbox"])
    before = changes(settings)
    drop(settings, FIRST)
    refresh(settings, ["inbox"])
    assert changes(settings) == before


def test_a_value_its_source_no_longer_states_is_retracted_by_the_run_that_noticed(settings):
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        first = frame({"shootings": 92.0, "shooting_deaths": 9.0})
        con.execute(
            "INSERT INTO runs (run_id, pipeline, started_at, status) VALUES "
            "('r1', 'police', ?, 'success'), ('r2', 'police', ?, 'success')",
            [T1 - dt.timedelta(seconds=5), T2 - dt.timedelta(seconds=5)],
        )
        upsert_observations(
            con, first, pipeline="police", run_id="r1", source_ids=["police_2024"], full_snapshot=True, now=T1
        )
        upsert_observations(
            con,
            frame({"shootings": 92.0}),
            pipeline="police",
            run_id="r2",
            source_ids=["police_2024"],
            full_snapshot=True,
            now=T2,
        )
        rows = con.execute(
            "SELECT run_id, changed_at, change, indicator_id, old_value, new_value FROM changes WHERE run_id = 'r2'"
        ).fetchall()
    assert rows == [("r2", T2, "retracted", "shooting_deaths", 9.0, None)]


T1 = dt.datetime(2026, 1, 1, 12, 0)
T2 = dt.datetime(2026, 2, 1, 12, 0)


def frame(values: dict[str, float]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "indicator_id": list(values),
            "geo": ["BE-BRU"] * n,
            "period_start": [dt.date(2024, 1, 1)] * n,
            "period_end": [dt.date(2024, 12, 31)] * n,
            "year": [2024] * n,
            "value": list(values.values()),
            "unit": ["count"] * n,
            "qualifier": ["exact"] * n,
            "is_partial": [False] * n,
            "as_of": [None] * n,
            "source_id": ["police_2024"] * n,
            "method": ["parsed"] * n,
            "evidence": [f"line {k}" for k in values],
            "note": [None] * n,
        },
        schema_overrides={"year": pl.Int32, "as_of": pl.Date},
    )


T3 = dt.datetime(2026, 3, 1, 12, 0)
COLUMNS = "run_id, changed_at, change, indicator_id, geo, year, old_value, new_value, source_id"


def test_a_filter_by_place_indicator_or_run_lists_the_rows_the_whole_log_has_for_it(settings):
    # Two places and two sources over three runs: a revision, a value stated again with other evidence (no change),
    # a retraction, and the retracted value stated again (new).
    runs = [
        (
            "r1",
            T1,
            [
                ("shootings", "BE-BRU", 92.0, "a"),
                ("shooting_deaths", "BE-BRU", 9.0, "a"),
                ("shootings", "BE", 500.0, "a"),
            ],
        ),
        ("r2", T2, [("shootings", "BE-BRU", 95.0, "a"), ("shootings", "BE", 500.0, "b")]),
        (
            "r3",
            T3,
            [
                ("shootings", "BE-BRU", 95.0, "a"),
                ("shooting_deaths", "BE-BRU", 9.0, "a"),
                ("shootings", "BE", 500.0, "b"),
            ],
        ),
    ]
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        for run_id, moment, _ in runs:
            con.execute(
                "INSERT INTO runs (run_id, pipeline, started_at, status) VALUES (?, 'police', ?, 'success')",
                [run_id, moment - dt.timedelta(seconds=5)],
            )
        for run_id, moment, rows in runs:
            for source in ("police_2024", "police_bis"):
                upsert_observations(
                    con,
                    keyed_frame(rows, source),
                    pipeline="police",
                    run_id=run_id,
                    source_ids=[source],
                    full_snapshot=True,
                    now=moment,
                )
        whole = con.execute(f"SELECT {COLUMNS} FROM changes").fetchall()
        by = {
            (column, value): con.execute(f"SELECT {COLUMNS} FROM changes WHERE {column} = ?", [value]).fetchall()
            for column, value in [
                ("geo", "BE-BRU"),
                ("geo", "BE"),
                ("indicator_id", "shooting_deaths"),
                ("indicator_id", "shootings"),
                ("run_id", "r2"),
                ("run_id", "r3"),
            ]
        }
    each_source = [
        ("r1", T1, "new", "shootings", "BE-BRU", 2024, None, 92.0),
        ("r1", T1, "new", "shooting_deaths", "BE-BRU", 2024, None, 9.0),
        ("r1", T1, "new", "shootings", "BE", 2024, None, 500.0),
        ("r2", T2, "revised", "shootings", "BE-BRU", 2024, 92.0, 95.0),
        ("r2", T2, "retracted", "shooting_deaths", "BE-BRU", 2024, 9.0, None),
        ("r3", T3, "new", "shooting_deaths", "BE-BRU", 2024, None, 9.0),
    ]
    assert sorted(whole, key=repr) == sorted(
        [(*row, source) for row in each_source for source in ("police_2024", "police_bis")], key=repr
    )
    # The log comes in the order of the changes.
    assert [row[1] for row in whole] == sorted(row[1] for row in whole)
    for (column, value), rows in by.items():
        index = COLUMNS.split(", ").index(column)
        assert sorted(rows, key=repr) == sorted((row for row in whole if row[index] == value), key=repr)


def keyed_frame(rows: list[tuple[str, str, float, str]], source_id: str) -> pl.DataFrame:
    """`frame` with a place and evidence of each row's own, for one source."""
    base = frame({f"{i}": value for i, (_, _, value, _) in enumerate(rows)})
    return base.with_columns(
        pl.Series("indicator_id", [r[0] for r in rows]),
        pl.Series("geo", [r[1] for r in rows]),
        pl.Series("evidence", [f"line {r[3]}" for r in rows]),
        pl.lit(source_id).alias("source_id"),
    )


#: Versions of the large history (a million, a quarter of them revised and as many retracted by a second run).
VERSIONS = 1_000_000


def test_the_changes_of_a_large_history_can_be_read_row_by_row(settings):
    # A plain SELECT of one run's or one place's changes streams its rows to the client; on a history of a million
    # versions it used to wait forever (the table and the shell read so).
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        con.execute(
            "INSERT INTO runs (run_id, pipeline, started_at, status) VALUES ('r1', 'p', ?, 'success'), "
            "('r2', 'p', ?, 'success')",
            [T1 - dt.timedelta(seconds=5), T2 - dt.timedelta(seconds=5)],
        )
        con.execute(
            "INSERT INTO loads VALUES (1, 'r1', 'p', 's', 'parsed', NULL, ?, NULL, NULL), "
            "(2, 'r2', 'p', 's', 'parsed', NULL, ?, NULL, NULL)",
            [T1, T2],
        )
        con.execute("INSERT INTO series_keys SELECT i, 'ind_' || (i // 10), 'G' || (i % 10) FROM range(100) AS t(i)")
        versions = (
            "INSERT INTO observation_versions (series_id, period_start, period_end, year, value, unit, qualifier, "
            "is_partial, load_id, valid_to) SELECT i % 100, DATE '1900-01-01' + CAST(i // 100 AS INTEGER), "
            "DATE '1900-01-01' + CAST(i // 100 AS INTEGER), 2000, i + ?, 'count', 'exact', false, ?, ? "
            "FROM range(?) AS t(i) WHERE i % ? = 0"
        )
        # Every second version of the first run closes in the second: every fourth is revised, the others retracted.
        con.execute(versions.replace("?, ? FROM", "?, CASE WHEN i % 2 = 0 THEN ? END FROM"), [0, 1, T2, VERSIONS, 1])
        con.execute(versions, [1, 2, None, VERSIONS, 4])
    for where in ("run_id = 'r2'", "geo = 'G2'"):
        query = f"SELECT * FROM changes WHERE {where}"
        [(expected,)] = read_rows(settings.warehouse, f"SELECT COUNT(*) FROM changes WHERE {where}")
        assert streamed_row_count(settings.warehouse, query) == expected > VERSIONS // 10, query


def test_the_refresh_summary_counts_a_runs_changes_without_sorting_them(settings):
    # Counted through the view, the changes were sorted first (DuckDB keeps its ORDER BY under a COUNT): the summary of
    # a first load of 30M rows peaked at 1.8 GiB. unsorted_changes() holds the same rows, and the count no sort.
    drop(settings, FIRST)
    refresh(settings, ["inbox"])
    drop(settings, SECOND)
    [second] = refresh(settings, ["inbox"])
    with locked_reader(settings.published_path) as con:
        line = changes_line(con, existing_relations(con), [second.run_id])
        assert line.startswith("Changed values: 1 new, 1 revised, 0 retracted; to list them:")
        counted = counted_changes(con)
        assert counted == "unsorted_changes()"
        plan = con.execute(f"EXPLAIN SELECT change, COUNT(*) FROM {counted} GROUP BY change").fetchall()
        assert "ORDER_BY" not in str(plan)
        rows = con.execute("SELECT * FROM changes").fetchall()
        assert sorted(con.execute("SELECT * FROM unsorted_changes()").fetchall(), key=repr) == sorted(rows, key=repr)


def test_the_refresh_summary_counts_through_the_view_when_the_project_views_predate_unsorted_changes(settings):
    drop(settings, FIRST)
    [first] = refresh(settings, ["inbox"])
    copy = settings.published_path.with_name("older_views.duckdb")
    shutil.copyfile(settings.published_path, copy)
    with duckdb.connect(str(copy)) as con:
        # A `changes` view not made of unsorted_changes(), and no such macro: a project's view files from before it.
        con.execute("CREATE TABLE older AS SELECT * FROM changes")
        con.execute("CREATE OR REPLACE VIEW changes AS SELECT * FROM older ORDER BY changed_at")
        con.execute("DROP MACRO TABLE unsorted_changes")
    with locked_reader(copy) as con:
        assert counted_changes(con) == "changes"
        line = changes_line(con, existing_relations(con), [first.run_id])
    assert line.startswith("Changed values: 3 new, 0 revised, 0 retracted; to list them:")

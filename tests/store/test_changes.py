"""The change log: the `changes` view says what each refresh added, revised and retracted, with its source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from octracker.load.pipeline import refresh
from octracker.store.history import upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, open_writer
from published import read_rows

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

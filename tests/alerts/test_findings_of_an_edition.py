"""A table's next edition, a full snapshot that revises some values and no longer states a series, stores the alert
findings the checks compute now: those of the revised series again, none of the series it retracted, on either
warehouse backend and whichever way the series owed are computed (alone by id, at once or in parts, or with every
series of their geos and indicators)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from octracker.store import findings
from octracker.store.history import upsert_observations
from octracker.store.warehouse import open_writer, prepare_warehouse
from octracker.store.writers import write_transaction

pytestmark = pytest.mark.usefixtures("backend")

FIRST = dt.datetime(2026, 1, 1, 12, 0)
NEXT = dt.datetime(2026, 2, 1, 12, 0)
#: Three series of places alerts follow, ten years each.
SERIES = (("shootings", "BE-BRU", 50.0), ("murders_and_attempts", "BE", 300.0), ("shootings", "BEANR", 20.0))
YEARS = range(2015, 2025)


def edition(
    catalog, revised: dict[tuple[str, str, int], float], left_out: set[tuple[str, str]], qualifier: str = "exact"
) -> pl.DataFrame:
    rows = [
        (indicator_id, geo, year, revised.get((indicator_id, geo, year), base + 3 * (year - 2015)))
        for indicator_id, geo, base in SERIES
        if (indicator_id, geo) not in left_out
        for year in YEARS
    ]
    return pl.DataFrame(
        {
            "indicator_id": [r[0] for r in rows],
            "geo": [r[1] for r in rows],
            "period_start": [dt.date(r[2], 1, 1) for r in rows],
            "period_end": [dt.date(r[2], 12, 31) for r in rows],
            "year": [r[2] for r in rows],
            "value": [r[3] for r in rows],
            "unit": [catalog[r[0]].unit for r in rows],
            "qualifier": [qualifier] * len(rows),
            "is_partial": [False] * len(rows),
            "as_of": [None] * len(rows),
            "source_id": ["table"] * len(rows),
            "method": ["parsed"] * len(rows),
            "evidence": [f"row {n}" for n in range(len(rows))],
            "note": [None] * len(rows),
        },
        schema_overrides={"year": pl.Int32, "as_of": pl.Date},
    )


def load(con, frame: pl.DataFrame, now: dt.datetime) -> None:
    write_transaction(
        con,
        lambda: upsert_observations(
            con, frame, pipeline="table", run_id=str(now), source_ids=["table"], full_snapshot=True, now=now
        ),
        what="the table",
    )


@pytest.mark.parametrize(
    ("few", "share", "many"),
    [
        (findings.FEW_SERIES, findings.FEW_SERIES_SHARE, findings.MANY_SERIES),  # alone, by id
        (0, 0.0, findings.MANY_SERIES),  # with every series of their geos and indicators
        (0, 0.0, 1),  # by id, one series per part (many series owed)
    ],
)
def test_an_edition_that_revises_and_retracts_stores_the_findings_computed_now(
    settings, catalog, monkeypatch, few, share, many
):
    monkeypatch.setattr(findings, "FEW_SERIES", few)
    monkeypatch.setattr(findings, "FEW_SERIES_SHARE", share)
    monkeypatch.setattr(findings, "MANY_SERIES", many)
    monkeypatch.setattr(findings, "SERIES_PER_PART", min(many, findings.SERIES_PER_PART))
    monkeypatch.setattr(findings, "BOUNDED_SERIES_PER_PART", min(many, findings.BOUNDED_SERIES_PER_PART))
    with open_writer(settings) as con:
        prepare_warehouse(con, settings, catalog)
        load(con, edition(catalog, {}, set()), FIRST)
        assert con.execute(
            "SELECT COUNT(*) FROM stored_alert_findings WHERE indicator_id = 'murders_and_attempts' AND geo = 'BE'"
        ).fetchone()[0], "no finding of the series the next edition retracts: nothing to clear"
        load(con, edition(catalog, {("shootings", "BE-BRU", 2024): 500.0}, {("murders_and_attempts", "BE")}), NEXT)
        differ = con.execute(
            "SELECT (SELECT COUNT(*) FROM (FROM stored_alert_findings EXCEPT ALL FROM alert_findings)),"
            " (SELECT COUNT(*) FROM (FROM alert_findings EXCEPT ALL FROM stored_alert_findings))"
        ).fetchone()
        retracted = con.execute(
            "SELECT check_name FROM stored_alert_findings WHERE indicator_id = 'murders_and_attempts' AND geo = 'BE'"
        ).fetchall()
        revised = con.execute(
            "SELECT check_name, prev_value FROM stored_alert_findings "
            "WHERE geo = 'BE-BRU' AND year = 2024 AND check_name IN ('revision', 'record') ORDER BY ALL"
        ).fetchall()
        untouched = con.execute("SELECT COUNT(*) FROM stored_alert_findings WHERE geo = 'BEANR'").fetchone()[0]
    assert differ == (0, 0)
    assert retracted == []
    assert revised == [("record", 74.0), ("revision", 77.0)]
    assert untouched


def test_a_revision_finding_states_the_revised_value_as_the_warehouse_does(settings, catalog):
    """The revised value's qualifier, stored as its load's usual one (NULL in the version), is the finding's as
    `observations` shows it: the findings read the latest update's values before joining their loads."""
    revised = {("shootings", "BE-BRU", 2024): 500.0}
    with open_writer(settings) as con:
        prepare_warehouse(con, settings, catalog)
        load(con, edition(catalog, {}, set(), qualifier="lower_bound"), FIRST)
        load(con, edition(catalog, revised, set(), qualifier="lower_bound"), NEXT)
        stored_as_usual = con.execute(
            "SELECT COUNT(*) FROM observation_versions WHERE qualifier IS NULL AND valid_to IS NULL"
        ).fetchone()[0]
        finding = "SELECT geo, year, value, qualifier FROM {} WHERE check_name = 'revision'"
        stored = con.execute(finding.format("stored_alert_findings")).fetchall()
        computed = con.execute(finding.format("alert_findings")).fetchall()
        current = con.execute(
            "SELECT geo, year, value, qualifier FROM observations "
            "WHERE indicator_id = 'shootings' AND geo = 'BE-BRU' AND year = 2024"
        ).fetchall()
    assert stored_as_usual == len(SERIES) * len(YEARS)
    assert stored == computed == current == [("BE-BRU", 2024, 500.0, "lower_bound")]

"""Curation: reading `[[curation]]` tables, moving figures, and keeping the claims they replace in history."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from octracker.content.curation import SUPERSEDED, Curation, apply_curations, read_curations
from octracker.errors import SpecError
from octracker.extract.validation import validate_observations
from octracker.extracts import EXTRACT_SCHEMA, Extract
from octracker.store.history import upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views

SENTENCE = "Belgium confiscated a record 121 metric tons of cocaine at the port of Antwerp in 2023."
MOVE = Curation(
    indicator="cocaine_seized_tonnes", geo="BEANR", period="2023", reason="Antwerp-Bruges total", to_geo="BEANR+BEZEE"
)


def figure(geo="BEANR", year=2023, value=121.0, end=None, partial=False) -> dict:
    return {
        "indicator_id": "cocaine_seized_tonnes",
        "geo": geo,
        "period_start": dt.date(year, 1, 1),
        "period_end": end or dt.date(year, 12, 31),
        "year": year,
        "value": value,
        "unit": "tonnes",
        "qualifier": "exact",
        "is_partial": partial,
        "as_of": end if partial else None,
        "source_id": "s004",
        "method": "parsed",
        "evidence": SENTENCE,
        "note": None,
        "_line_no": 25,
        "_raw": SENTENCE,
    }


def extract(*rows: dict) -> Extract:
    return Extract(pl.DataFrame(list(rows), schema=EXTRACT_SCHEMA))


def test_a_curation_moves_the_figure_and_keeps_the_claim_marked_superseded():
    result = apply_curations(extract(figure(), figure(year=2022, value=110.0)), [MOVE], "004.txt")
    assert result.ok
    rows = {(r["geo"], r["year"], r[SUPERSEDED]): r for r in result.frame.to_dicts()}
    assert set(rows) == {("BEANR", 2023, True), ("BEANR", 2022, False), ("BEANR+BEZEE", 2023, False)}
    curated, claim = rows[("BEANR+BEZEE", 2023, False)], rows[("BEANR", 2023, True)]
    assert (curated["method"], curated["note"], curated["evidence"], curated["value"]) == (
        "curated",
        "Antwerp-Bruges total",
        SENTENCE,
        121.0,
    )
    assert (claim["method"], claim["note"]) == (
        "parsed",
        "Curated to cocaine_seized_tonnes at BEANR+BEZEE: Antwerp-Bruges total",
    )


def test_a_curation_can_move_a_figure_to_another_indicator():
    to_deaths = Curation(
        indicator="cocaine_seized_tonnes", geo="BEANR", period="2023", reason="misread", to_indicator="shooting_deaths"
    )
    result = apply_curations(extract(figure()), [to_deaths], "004.txt")
    moved = result.frame.filter(~pl.col(SUPERSEDED)).to_dicts()[0]
    assert (moved["indicator_id"], moved["geo"], moved["unit"]) == ("shooting_deaths", "BEANR", "tonnes")


def test_a_moved_figure_must_still_validate(settings, catalog):
    to_deaths = Curation(
        indicator="cocaine_seized_tonnes", geo="BEANR", period="2023", reason="misread", to_indicator="shooting_deaths"
    )
    result = apply_curations(extract(figure()), [to_deaths], "004.txt")
    problems = validate_observations(result.frame, catalog, settings.schemas_dir)
    assert [p.check for p in problems] == ["unit_mismatch"]


def test_a_year_matches_a_partial_period_of_that_year():
    partial = figure(year=2025, end=dt.date(2025, 9, 10), partial=True)
    move = Curation(indicator="cocaine_seized_tonnes", geo="BEANR", period="2025", reason="r", to_geo="BEANR+BEZEE")
    assert apply_curations(extract(partial), [move], "004.txt").ok


@pytest.mark.parametrize(
    ("rows", "how"),
    [
        ([figure(year=2022)], "matches no figure read from 004.txt"),
        ([figure(), figure(end=dt.date(2023, 6, 30), partial=True)], "matches 2 figures"),
    ],
)
def test_a_curation_that_does_not_match_exactly_one_figure_refuses_the_document(rows, how):
    result = apply_curations(extract(*rows), [MOVE], "004.txt")
    assert [p.check for p in result.problems] == ["curation_unmatched"]
    assert "curation of cocaine_seized_tonnes BEANR 2023 " + how in result.problems[0].message


def test_no_curations_leave_the_extract_as_it_is():
    original = extract(figure())
    assert apply_curations(original, [], "004.txt") is original


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"indicator": "x", "geo": "BEANR", "period": "2023", "to_geo": "BEZEE"}, "missing reason"),
        ({"indicator": "x", "geo": "BEANR", "period": "2023", "reason": "r"}, "it moves nothing"),
        ({"indicator": "x", "geo": "BEANR", "period": "2023", "reason": " ", "to_geo": "BEZEE"}, "the reason is empty"),
        ({"indicator": "x", "geo": "BEANR", "period": "23", "reason": "r", "to_geo": "BEZEE"}, "period '23' is not"),
        ({"indicator": "x", "geo": "BEANR", "period": "2023", "reason": "r", "to": "BEZEE"}, "unknown key(s) to"),
    ],
)
def test_bad_curation_tables_are_refused(entry, message):
    with pytest.raises(
        SpecError, match=r"spec\.toml: \[\[curation\]\] #1: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_curations([entry], "spec.toml")


def test_reasons_are_kept_on_one_line():
    (curation,) = read_curations(
        [{"indicator": "x", "geo": "BEANR", "period": "2023", "to_geo": "BEZEE", "reason": "two\n   lines"}],
        "spec.toml",
    )
    assert curation.reason == "two lines"


@pytest.fixture
def con(settings):
    connection = duckdb.connect(":memory:")
    apply_migrations(connection, settings.migrations_dir)
    apply_views(connection, settings.views_dir)
    yield connection
    connection.close()


def load(con, rows: Extract, when: int):
    return upsert_observations(
        con,
        rows.frame,
        pipeline="p",
        run_id=f"r{when}",
        source_ids=["s004"],
        full_snapshot=True,
        now=dt.datetime(2026, 1, when),
    )


def history(con) -> list[tuple]:
    return con.execute(
        "SELECT geo, method, valid_from, valid_to FROM observation_history ORDER BY valid_from, geo"
    ).fetchall()


def test_claims_are_written_once_and_come_back_when_the_curation_is_removed(con):
    curated = apply_curations(extract(figure()), [MOVE], "004.txt")
    counts = load(con, curated, 1)
    assert (counts.new, counts.retracted) == (1, 0)
    jan1, jan2, jan3 = (dt.datetime(2026, 1, d) for d in (1, 2, 3))
    assert history(con) == [("BEANR", "parsed", jan1, jan1), ("BEANR+BEZEE", "curated", jan1, None)]
    counts = load(con, curated, 2)
    assert (counts.new, counts.unchanged, counts.retracted) == (0, 1, 0) and len(history(con)) == 2
    # Without the curation the source's claim is current again, and the curated row is retracted.
    counts = load(con, extract(figure()), 3)
    assert (counts.new, counts.retracted) == (1, 1)
    assert history(con)[-1] == ("BEANR", "parsed", jan3, None)
    assert con.execute("SELECT geo FROM observations").fetchall() == [("BEANR",)]


def test_without_full_snapshot_a_current_claim_is_still_closed(con):
    upsert_observations(
        con,
        extract(figure()).frame,
        pipeline="p",
        run_id="r1",
        source_ids=["s004"],
        full_snapshot=False,
        now=dt.datetime(2026, 1, 1),
    )
    curated = apply_curations(extract(figure()), [MOVE], "004.txt")
    counts = upsert_observations(
        con,
        curated.frame,
        pipeline="p",
        run_id="r2",
        source_ids=["s004"],
        full_snapshot=False,
        now=dt.datetime(2026, 1, 2),
    )
    assert (counts.new, counts.retracted) == (1, 1)
    assert con.execute("SELECT geo, method FROM observations").fetchall() == [("BEANR+BEZEE", "curated")]
    assert con.execute("SELECT COUNT(*) FROM observation_history WHERE geo = 'BEANR'").fetchone() == (2,)

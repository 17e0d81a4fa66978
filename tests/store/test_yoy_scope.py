"""The alert checks read year-over-year changes of the series they check only (`yoy_changes_in(geos,
indicator_ids)` with the geos alerts follow), so that storing the findings does not pair every year of every series
of the whole-world tables. Over random annual series (gaps, years to date with and without an as-of date, bounds,
zeros, a full year beside a year to date), those rows must be the rows `yoy_changes` has for the same series, and
the yoy_change findings must be each series' latest change as `yoy_changes` shows it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_views import REPO, build_warehouse, catalog_with, insert_observation

from octracker.content.catalog import load_catalog

INDICATOR = "case.yoy_scope"
GEOS = ("BE", "NL", "FR", "DE", "LU")
QUALIFIERS = ("exact", "approx", "lower_bound", "upper_bound")
CASE = {
    "indicators": [
        {"id": INDICATOR, "name": "Scope case", "unit": "count", "direction": "up_is_bad", "frequency": "annual"}
    ],
    "sources": [{"source_id": "stats"}],
}


@st.composite
def year_rows(draw, geo: str, year: int) -> list[dict]:
    """The rows one source states for a year: a full year, a year to date, or both (two periods)."""
    kind = draw(st.sampled_from(("full", "to_date", "to_date_unknown_pace", "full_and_to_date")))
    base = {"indicator_id": INDICATOR, "geo": geo, "source_id": "stats", "year": year}
    value = st.sampled_from((0.0, 50.0, 80.0, 100.0, 120.0, 200.0))
    rows = []
    if kind in ("full", "full_and_to_date"):
        rows.append({**base, "value": draw(value), "qualifier": draw(st.sampled_from(QUALIFIERS))})
    if kind in ("to_date", "full_and_to_date"):
        end = dt.date(year, draw(st.integers(1, 11)), 28)
        as_of = draw(st.one_of(st.none(), st.just(end)))
        rows.append(
            {
                **base,
                "period": f"{year}-01-01/{end.isoformat()}",
                "value": draw(value),
                "is_partial": True,
                "as_of": as_of,
                "qualifier": draw(st.sampled_from(QUALIFIERS)),
            }
        )
    if kind == "to_date_unknown_pace":
        # The whole year's period, counted so far, with no as-of date: its pace is unknown.
        rows.append(
            {
                **base,
                "value": draw(value),
                "is_partial": True,
                "as_of": None,
                "qualifier": draw(st.sampled_from(QUALIFIERS)),
            }
        )
    return rows


@st.composite
def warehouses(draw) -> list[dict]:
    rows = []
    for geo in draw(st.lists(st.sampled_from(GEOS), min_size=1, max_size=len(GEOS), unique=True)):
        for year in draw(st.lists(st.integers(2010, 2022), min_size=1, max_size=8, unique=True)):
            rows.extend(draw(year_rows(geo, year)))
    return rows


def case_catalog():
    return catalog_with(load_catalog(REPO / "schemas" / "indicators.toml"), CASE["indicators"])


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    build_warehouse(connection, CASE, load_catalog(REPO / "schemas" / "indicators.toml"), "yoy_scope")
    yield connection
    connection.close()


def rows_of(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(observations=warehouses())
def test_the_checked_series_and_findings_agree_with_the_full_history(con, observations):
    con.execute("DELETE FROM observation_versions")
    con.execute("DELETE FROM multi_source_periods")
    catalog = case_catalog()
    for row in observations:
        insert_observation(con, row, catalog, "yoy_scope")

    every_year = rows_of(con, f"SELECT * FROM yoy_changes WHERE indicator_id = '{INDICATOR}'")
    checked = rows_of(
        con,
        f"SELECT * FROM yoy_changes_in((SELECT list(geo) FROM followed_geos), NULL) WHERE indicator_id = '{INDICATOR}'",
    )
    findings = rows_of(
        con,
        "SELECT geo, year, value, prev_value, pct_change FROM alert_findings "
        f"WHERE check_name = 'yoy_change' AND indicator_id = '{INDICATOR}'",
    )

    # The series the checks read (every place is followed here: no alert_places): every year exactly as the
    # full history has it.
    key = lambda r: (r["geo"], r["year"])  # noqa: E731
    assert sorted(checked, key=key) == sorted(every_year, key=key)

    # The findings: per series, the latest year that is not a year to date of unknown pace, when comparable.
    expected_findings = []
    for geo in {r["geo"] for r in every_year}:
        candidates = [r for r in every_year if r["geo"] == geo and r["not_comparable"] != "partial_without_as_of"]
        if candidates:
            latest = max(candidates, key=lambda r: r["year"])
            if latest["comparable"]:
                expected_findings.append({k: latest[k] for k in ("geo", "year", "value", "prev_value", "pct_change")})
    assert sorted(findings, key=key) == sorted(expected_findings, key=key)


def test_the_checks_read_the_followed_places_years_as_yoy_changes_has_them_and_the_latest_is_the_finding(con):
    """BE followed, NL not: the checks read BE's years only, each with its change as in yoy_changes (the year to
    date at its annualized pace), and BE's finding is its latest change; NL has changes but no finding."""
    con.execute("DELETE FROM observation_versions")
    con.execute("DELETE FROM multi_source_periods")
    catalog = case_catalog()
    for geo in ("BE", "NL"):
        for year, value in ((2020, 100.0), (2021, 120.0), (2022, 150.0)):
            insert_observation(
                con,
                {"indicator_id": INDICATOR, "geo": geo, "source_id": "stats", "year": year, "value": value},
                catalog,
                "yoy_scope",
            )
    insert_observation(
        con,
        {
            "indicator_id": INDICATOR,
            "geo": "BE",
            "source_id": "stats",
            "year": 2023,
            "period": "2023-01-01/2023-06-30",
            "value": 90.0,
            "is_partial": True,
            "as_of": dt.date(2023, 6, 30),
        },
        catalog,
        "yoy_scope",
    )
    con.execute("INSERT INTO alert_places VALUES ('BE')")
    try:
        columns = "geo, year, basis, prev_value, round(pct_change, 1)"
        checked = con.execute(
            f"SELECT {columns} FROM yoy_changes_in((SELECT list(geo) FROM followed_geos), NULL) "
            f"WHERE indicator_id = '{INDICATOR}' ORDER BY year"
        ).fetchall()
        every = con.execute(
            f"SELECT {columns} FROM yoy_changes WHERE indicator_id = '{INDICATOR}' AND geo = 'BE' ORDER BY year"
        ).fetchall()
        findings = con.execute(
            "SELECT geo, year, round(measure, 1) FROM alert_findings "
            f"WHERE check_name = 'yoy_change' AND indicator_id = '{INDICATOR}'"
        ).fetchall()
    finally:
        con.execute("DELETE FROM alert_places")
    assert checked == every
    assert checked[-2:] == [("BE", 2022, "full_year", 120.0, 25.0), ("BE", 2023, "annualized", 150.0, 21.0)]
    assert findings == [("BE", 2023, 21.0)]

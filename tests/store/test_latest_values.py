"""latest_values picks a year's value as yoy_changes and the alerts do, so a report and an alert never cite
two different figures for the same year to date."""

from __future__ import annotations

from conftest import query


def test_the_latest_year_to_date_is_the_one_with_a_known_as_of_date(refreshed):
    # 2025 so far: "over 60" (as-of date unknown, stored to 31 December) and "approximately 60 ... so far this
    # year" as of 10 September 2025. The one with a pace is the value of 2025, everywhere.
    (latest,) = query(
        refreshed,
        "SELECT year, value, qualifier, as_of, source_id FROM latest_values "
        "WHERE indicator_id = 'shootings' AND geo = 'BE-BRU'",
    )
    assert latest[:2] == (2025, 60.0) and latest[2] == "approx"
    assert str(latest[3]) == "2025-09-10" and latest[4] == "news-2025-09-us-visit-antwerp"


def test_latest_values_and_yoy_changes_pick_the_same_row_of_each_series_latest_year(refreshed):
    disagreeing = query(
        refreshed,
        "SELECT l.indicator_id, l.geo, l.year, l.value, l.source_id, y.value, y.source_id "
        "FROM latest_values AS l JOIN yoy_changes AS y USING (indicator_id, geo, year) "
        "WHERE l.value IS DISTINCT FROM y.value OR l.source_id IS DISTINCT FROM y.source_id "
        "OR l.as_of IS DISTINCT FROM y.as_of",
    )
    assert disagreeing == []
    compared = query(
        refreshed, "SELECT COUNT(*) FROM latest_values AS l JOIN yoy_changes AS y USING (indicator_id, geo, year)"
    )
    assert compared[0][0] >= 5

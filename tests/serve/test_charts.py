"""What a chart draws: every source's value, side by side within a year, marked by how it is stated."""

from __future__ import annotations

import datetime as dt

from octracker.serve.charts import Point, build_chart, plotted_rows


def point(geo="BEANR", year=2023, value=116.0, qualifier="exact", partial=False, as_of=None, source="a", picked=True):
    end = as_of or dt.date(year, 12, 31)
    return Point(
        geo,
        year,
        dt.date(year, 1, 1),
        end,
        value,
        "tonnes",
        qualifier,
        partial,
        as_of,
        source,
        f"Title {source}",
        "a sentence",
        picked,
    )


def test_sources_of_one_year_stand_side_by_side_around_the_year_picked_one_first():
    rows = plotted_rows(
        [
            point(value=121.0, source="b", picked=True),
            point(value=116.0, source="a", picked=False),
            point(year=2022, value=110.0),
        ]
    )
    by_value = {r["value"]: r for r in rows}
    assert by_value[110.0]["x"] == 2022
    assert by_value[121.0]["x"] < 2023 < by_value[116.0]["x"]
    assert abs((by_value[121.0]["x"] + by_value[116.0]["x"]) / 2 - 2023) < 1e-9
    assert [by_value[v]["on_line"] for v in (110.0, 121.0, 116.0)] == [True, True, False]
    assert "(not the value the series uses)" in by_value[116.0]["description"]


def test_only_whole_period_points_are_joined_by_the_line_and_only_exact_ones_are_filled():
    cases = [
        point(year=2020),
        point(year=2021, qualifier="approx"),
        point(year=2022, qualifier="lower_bound"),
        point(year=2023, qualifier="upper_bound"),
        point(year=2024, partial=True, as_of=dt.date(2024, 9, 10)),
        point(year=2025, qualifier="lower_bound", partial=True),
    ]
    rows = sorted(plotted_rows(cases), key=lambda r: r["x"])
    assert [(r["x"], r["marking"], r["filled"], r["on_line"], r["label"]) for r in rows] == [
        (2020, "exact", 1, True, ""),
        (2021, "approximate", 0, True, ""),
        (2022, "at least (lower bound)", 0, False, ""),
        (2023, "at most (upper bound)", 0, False, ""),
        (2024, "partial period (so far)", 0, False, "so far (to 10 Sep)"),
        (2025, "at least (lower bound)", 0, False, "so far"),
    ]


def test_a_place_keeps_its_colour_across_charts_of_a_report(catalog):
    order = ["BE", "BE-BRU", "BEANR", "NL"]
    spec = build_chart(catalog["cocaine_seized_tonnes"], [point()], geo_order=order)
    assert {r["colour"] for r in spec["datasets"]["points"]} == {"#54a24b"}  # BEANR is third everywhere
    alone = build_chart(catalog["cocaine_seized_tonnes"], [point()])
    assert {r["colour"] for r in alone["datasets"]["points"]} == {"#4c78a8"}
    assert [m["marking"] for m in spec["datasets"]["markings"]] == ["exact"]

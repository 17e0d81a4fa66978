"""Charts of one indicator's series per place: Vega-Lite specs built with altair, rendered offline by vl-convert.

Every value any source states is drawn, not only the one `series` picks: a period that several sources
state shows their points side by side, and the line joins the picked whole-period values stated as
points (a bound or a partial period is never joined as if it were one). How a value is
stated is visible: only an exact full-period value is a filled dot; approximations, bounds and partial
periods (year to date, labelled "so far") are hollow, with their own shapes, explained by a legend.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import vl_convert

from octracker.content.catalog import Indicator
from octracker.content.geographies import geo_label
from octracker.errors import UsageError

#: Colours per place, assigned in one order for a whole report so a place keeps its colour.
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac")
#: How a value is stated -> (shape, filled). The order is the legend's.
MARKINGS = {
    "exact": ("circle", True),
    "approximate": ("circle", False),
    "at least (lower bound)": ("triangle-up", False),
    "at most (upper bound)": ("triangle-down", False),
    "partial period (so far)": ("square", False),
    "derived or computed (not printed)": ("diamond", False),
}
#: Methods of values the source does not print: a previous edition's score derived from a printed change, an
#: aggregate computed as a mean. Drawn as hollow diamonds, so a printed score stands out from them.
UNPRINTED_METHODS = ("derived", "computed")
#: Index scores run from 1 to 10: every index chart has that axis, so two charts compare at a glance.
SCORE_DOMAIN = (1, 10)
CHART_WIDTH = 560
CHART_HEIGHT = 220
CHART_FORMATS = (".svg", ".png")


@dataclass(frozen=True)
class Point:
    """One source's current value for one place and known period, and whether `series` picked it."""

    geo: str
    year: int
    period_start: dt.date
    period_end: dt.date
    value: float
    unit: str
    qualifier: str
    is_partial: bool
    as_of: dt.date | None
    source_id: str
    source_title: str | None
    evidence: str
    picked: bool
    method: str = "parsed"


#: The columns of a Point, read from `observations AS o`, `sources AS src` and `series AS s`.
POINT_COLUMNS = (
    "o.geo, o.year, o.period_start, o.period_end, o.value, o.unit, o.qualifier, o.is_partial, o.as_of, "
    "o.source_id, src.title, o.evidence, s.source_id IS NOT NULL AS picked, o.method"
)
#: Joins that give a Point its source's title and whether the series uses it.
POINT_JOINS = """
        LEFT JOIN sources AS src ON src.source_id = o.source_id
        LEFT JOIN series AS s
          ON s.indicator_id = o.indicator_id AND s.geo = o.geo AND s.period_start = o.period_start
         AND s.period_end = o.period_end AND s.source_id = o.source_id"""


def read_points(con: duckdb.DuckDBPyConnection, indicator_id: str, geos: tuple[str, ...] = ()) -> list[Point]:
    """Every current value of the indicator with a known period, from every source."""
    geo_filter = f"AND o.geo IN ({', '.join('?' for _ in geos)})" if geos else ""
    rows = con.execute(
        f"""
        SELECT {POINT_COLUMNS}
        FROM observations AS o {POINT_JOINS}
        WHERE o.indicator_id = ? AND o.period_start IS NOT NULL {geo_filter}
        ORDER BY o.geo, o.year, o.period_end, o.source_id
        """,
        [indicator_id, *geos],
    ).fetchall()
    return [Point(*row) for row in rows]


def marking(point: Point) -> str:
    """The legend entry for how a value is stated; a bound outranks a partial period, which outranks ≈."""
    if point.qualifier == "lower_bound":
        return "at least (lower bound)"
    if point.qualifier == "upper_bound":
        return "at most (upper bound)"
    if point.is_partial:
        return "partial period (so far)"
    if point.method in UNPRINTED_METHODS:
        return "derived or computed (not printed)"
    return "approximate" if point.qualifier == "approx" else "exact"


def partial_label(point: Point) -> str:
    if not point.is_partial:
        return ""
    return f"so far (to {point.as_of:%-d %b})" if point.as_of else "so far"


def plotted_rows(points: list[Point], places: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per point, with an x position that sets points of the same year side by side."""
    by_year: dict[int, list[Point]] = defaultdict(list)
    for point in points:
        by_year[point.year].append(point)
    rows = []
    for year, group in by_year.items():
        group.sort(key=lambda p: (p.geo, not p.picked, p.period_end, p.source_id))
        step = min(0.16, 0.7 / len(group))
        for i, point in enumerate(group):
            kind = marking(point)
            rows.append(
                {
                    "geo": point.geo,
                    "place": geo_label(point.geo, places),
                    "x": year + (i - (len(group) - 1) / 2) * step,
                    "value": point.value,
                    "marking": kind,
                    "filled": 1 if MARKINGS[kind][1] else 0,
                    # The line joins what the series uses for whole periods, stated as a point (not a bound).
                    "on_line": point.picked and not point.is_partial and point.qualifier in ("exact", "approx"),
                    "label": partial_label(point),
                    # Labels of neighbouring points go below and above, so they do not overlap.
                    "label_below": i % 2 == 0,
                    # What a screen reader says for the point (its aria-label).
                    "description": f"{geo_label(point.geo, places)}, {year}: {point.value:g} {point.unit}, "
                    f"{kind}{', so far' if point.is_partial else ''}"
                    f"{'' if point.method == 'parsed' else ', ' + point.method}, "
                    f"from {point.source_title or point.source_id}"
                    f"{'' if point.picked else ' (not the value the series uses)'}",
                }
            )
    return sorted(rows, key=lambda r: (r["geo"], r["x"]))


def build_chart(
    indicator: Indicator,
    points: list[Point],
    *,
    title: bool = True,
    geo_order: list[str] | None = None,
    places: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Vega-Lite spec of one indicator's chart: a line per place, every stated value as a point.

    `geo_order` gives each place its colour (a report passes all its places so a place keeps one colour).
    """
    rows = plotted_rows(points, places)
    order = list(geo_order or sorted({r["geo"] for r in rows}))
    for row in rows:
        index = order.index(row["geo"]) if row["geo"] in order else len(order)
        row["colour"] = PALETTE[index % len(PALETTE)]
        row["place_order"] = index
    years = sorted({p.year for p in points})
    spec = copy.deepcopy(
        chart_template(
            f"{indicator.name} ({indicator.unit})" if title else None,
            zero=indicator.min == 0,
            first_year=years[0],
            last_year=years[-1],
            fixed=SCORE_DOMAIN if indicator.unit == "score" else None,
        )
    )
    spec["datasets"] = {"points": rows, "markings": legend_rows([r["marking"] for r in rows])}
    return spec


def legend_rows(markings: list[str]) -> list[dict[str, Any]]:
    """The legend entries for the markings used, placed left to right by the length of their labels."""
    rows: list[dict[str, Any]] = []
    x: float = 8
    for m in (m for m in MARKINGS if m in markings):
        rows.append({"marking": m, "x": x, "filled": 1 if MARKINGS[m][1] else 0})
        x += 26 + 6.5 * len(m)
    return rows


@functools.lru_cache(maxsize=64)
def chart_template(
    title: str | None, zero: bool, first_year: int, last_year: int, fixed: tuple[float, float] | None = None
) -> dict[str, Any]:
    """The chart's structure, data-free (datasets `points` and `markings` are added per chart).

    Built once per title, y-scale and span of years: altair takes ~0.1 s to assemble a spec, longer than
    rendering it. Colours come from the rows (`colour`), so a place keeps its colour in every chart. `fixed`
    pins the y axis (index scores: 1 to 10).
    """
    x = alt.X(
        "x:Q",
        title=None,
        scale=alt.Scale(domain=[first_year - 0.6, last_year + 0.6], nice=False),
        axis=alt.Axis(format="d", values=list(range(first_year, last_year + 1)), grid=False),
    )
    y_scale = alt.Scale(domain=list(fixed), nice=False, zero=False) if fixed else alt.Scale(zero=zero, nice=True)
    y = alt.Y("value:Q", title=None, scale=y_scale)
    place_scale = alt.Scale(range=alt.FieldRange(field="colour"))
    place_sort = alt.EncodingSortField(field="place_order", op="min")
    colour = alt.Color(
        "place:N",
        title=None,
        scale=place_scale,
        sort=place_sort,
        legend=alt.Legend(orient="top", direction="horizontal", symbolType="circle", labelLimit=320),
    )
    hidden: dict[str, Any] = {"scale": place_scale, "sort": place_sort, "legend": None}
    shape = alt.Shape(
        "marking:N", scale=alt.Scale(domain=list(MARKINGS), range=[s for s, _ in MARKINGS.values()]), legend=None
    )
    base = alt.Chart()
    line = (
        base.transform_filter("datum.on_line")
        .mark_line(strokeWidth=2)
        .encode(x=x, y=y, color=colour, detail="geo:N", order="x:Q")
    )
    dots = base.mark_point(size=90, strokeWidth=2, filled=True, opacity=1).encode(
        x=x,
        y=y,
        shape=shape,
        fillOpacity=alt.FillOpacity("filled:Q", scale=None),
        fill=alt.Fill("place:N", **hidden),
        stroke=alt.Stroke("place:N", **hidden),
        description=alt.Description("description:N"),
    )
    # Labels of neighbouring points go below and above, so they do not overlap.
    labels = [
        base.transform_filter(f"datum.label != '' && {'' if below else '!'}datum.label_below")
        .mark_text(fontSize=10, dy=16 if below else -16, aria=False)
        .encode(x=x, y=y, text="label:N", color=alt.Color("place:N", **hidden))
        for below in (True, False)
    ]
    main = alt.layer(line, dots, *labels, data=alt.NamedData(name="points")).properties(
        width=CHART_WIDTH, height=CHART_HEIGHT
    )
    chart = alt.vconcat(main, marking_legend(), spacing=4).configure_view(stroke=None)
    if title:
        chart = chart.properties(title=alt.TitleParams(title, anchor="start"))
    return chart.to_dict(validate=False)


def marking_legend() -> alt.LayerChart | alt.FacetChart:
    """A legend row for the markings in the chart (dataset `markings`), drawn as marks so that hollow and
    filled look as they do in the plot."""
    base = alt.Chart()
    x = alt.X("x:Q", axis=None, scale=None)
    shape = alt.Shape(
        "marking:N", scale=alt.Scale(domain=list(MARKINGS), range=[s for s, _ in MARKINGS.values()]), legend=None
    )
    return alt.layer(
        base.mark_point(
            size=60, strokeWidth=1.5, fill="#444", stroke="#444", filled=True, opacity=1, aria=False
        ).encode(x=x, shape=shape, fillOpacity=alt.FillOpacity("filled:Q", scale=None)),
        base.mark_text(align="left", dx=9, fontSize=11, color="#333", aria=False).encode(x=x, text="marking:N"),
        data=alt.NamedData(name="markings"),
    ).properties(width=CHART_WIDTH, height=14)


def render_svg(spec: dict[str, Any]) -> str:
    return vl_convert.vegalite_to_svg(spec)


def render_png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    return vl_convert.vegalite_to_png(spec, scale=scale)


def write_chart(spec: dict[str, Any], path: Path) -> Path:
    """Write the chart as SVG or PNG, chosen by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix not in CHART_FORMATS:
        raise UsageError(f"{path}: write a chart to a .svg or .png file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        path.write_text(render_svg(spec), encoding="utf-8")
    else:
        path.write_bytes(render_png(spec))
    return path

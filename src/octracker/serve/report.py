"""The static HTML report: what the published warehouse says, per indicator, with evidence, for offline reading.

One self-contained file (`index.html`): styles inline, charts as inline SVG rendered by vl-convert, no
script and no external request (its Content-Security-Policy forbids them), so it opens from a file share
or an e-mail attachment as well as from a web server.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from octracker.content.catalog import Indicator
from octracker.content.geographies import load_place_names
from octracker.errors import OctrackerError
from octracker.extract.publishers.codes import is_native_id
from octracker.extract.publishers.kinds import PUBLISHER_KINDS
from octracker.serve.charts import POINT_COLUMNS, POINT_JOINS, Point, build_chart, read_points, render_svg
from octracker.serve.evidence import with_cited_rows
from octracker.serve.report_html import render_report
from octracker.store.lake import published_time
from octracker.store.query import existing_relations, followed_places_condition, locked_reader
from octracker.store.rows import scalar
from octracker.store.settings import Settings

#: Views the report cannot do without; refresh builds them.
REQUIRED_VIEWS = ("series", "source_conflicts", "latest_values")
#: Alert columns the report reads, those the warehouse's trend_alerts has (the contract names the first ones).
ALERT_COLUMNS = (
    "severity",
    "rule",
    "indicator_id",
    "indicator_name",
    "geo",
    "period",
    "year",
    "message",
    "check_name",
    "unit",
    "value",
    "prev_year",
    "prev_value",
    "change",
    "pct_change",
)

#: The headline panel: the index's two pillars for the places the report is about.
HEADLINE_GEOS = ("BE", "NL")
HEADLINE_INDICATORS = ("oci.criminality", "oci.resilience")
#: Biggest movers listed on the front page (index editions, then year-over-year changes).
MOVERS_SHOWN = 8
#: Source kinds of statistics offices' tables (Eurostat, CBS, UNODC): an indicator whose values all come from
#: them is official statistics, shown beside the figures from articles. The index workbook is not one.
OFFICIAL_KINDS = sorted(k.name for k in PUBLISHER_KINDS.values() if k.precedence >= 80)


#: Changed values the report lists one by one; beyond this it gives the counts and the command.
CHANGES_LISTED = 100
#: The previous report's time, as render_report writes it into the page.
GENERATED_META = re.compile(r'<meta name="octracker-generated-at" content="([0-9T:.+-]+)">')

ProgressFn = Callable[[int, int, str], None]


@dataclass
class Conflict:
    indicator_id: str
    indicator_name: str
    geo: str
    year: int | None
    period_start: dt.date
    period_end: dt.date
    stated: list[Point]


@dataclass
class IndicatorSection:
    indicator: Indicator
    chart_svg: str
    latest: list[dict[str, Any]]
    #: Other sources' values for the period of a latest value, keyed by geo.
    also_stated: dict[str, list[Point]]
    conflicts: list[Conflict]
    #: Values whose period the source does not state: kept, never charted.
    undated: list[dict[str, Any]]
    #: Per latest value's geo: the change it reads as ("score 6.50, +0.50 since 2023") and the flags it has.
    readings: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    #: Every value comes from a statistics office's table (OFFICIAL_KINDS), none from an article or the index.
    official: bool = False


@dataclass
class ReportData:
    generated_at: dt.datetime
    published_at: dt.datetime
    places: dict[str, str]
    n_values: int
    n_sources: int
    #: None when the warehouse has no trend_alerts view.
    alerts: list[dict[str, Any]] | None
    conflicts: list[Conflict] = field(default_factory=list)
    sections: list[IndicatorSection] = field(default_factory=list)
    #: When the report last written to the same folder was generated (None: no earlier report there).
    changes_since: dt.datetime | None = None
    #: Values changed since then (the first CHANGES_LISTED, newest first), and how many of each kind in all;
    #: None when there is no earlier report or the warehouse has no changes view.
    changes: list[dict[str, Any]] | None = None
    change_counts: dict[str, int] = field(default_factory=dict)
    #: The headline panel: per (geo, indicator) its latest edition, change and ranks (when the whole index is in).
    headline: list[dict[str, Any]] = field(default_factory=list)
    #: Largest moves between index editions and largest comparable year-over-year changes.
    movers: list[dict[str, Any]] = field(default_factory=list)
    #: How many moves there are in all (the front page lists MOVERS_SHOWN).
    movers_total: int = 0


def records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def read_indicators(con: duckdb.DuckDBPyConnection) -> list[Indicator]:
    """Indicators that have values, in catalog order (the order `refresh` wrote them in)."""
    rows = con.execute(
        "SELECT i.indicator_id, i.name, i.unit, i.direction, i.frequency, i.min_value, i.max_value, "
        "i.description, i.indicator_group, i.aggregate_of FROM indicators AS i "
        "WHERE i.indicator_id IN (SELECT indicator_id FROM observations) ORDER BY i.rowid"
    ).fetchall()
    found = [
        Indicator(
            id=r[0],
            name=r[1],
            unit=r[2],
            direction=r[3],
            frequency=r[4],
            min=r[5],
            max=r[6],
            description=r[7] or "",
            group=r[8],
            aggregate_of=r[9],
        )
        for r in rows
    ]
    # Values of an indicator no longer in the catalog still belong in the report, under their id. A publisher's
    # native series (thousands of them in one Eurostat or CBS table) is charted once the catalog maps it to an
    # indicator, under that indicator.
    known = {i.id for i in found}
    for indicator_id, unit in con.execute(
        "SELECT indicator_id, any_value(unit) FROM observations GROUP BY indicator_id ORDER BY indicator_id"
    ).fetchall():
        if indicator_id not in known and not is_native_id(indicator_id):
            found.append(
                Indicator(
                    id=indicator_id,
                    name=indicator_id,
                    unit=unit,
                    direction="neutral",
                    frequency="irregular",
                    min=float("nan"),
                    max=float("nan"),
                    description="Not in the indicator catalog any more.",
                )
            )
    return found


def read_multi_source_periods(con: duckdb.DuckDBPyConnection) -> dict[tuple, list[Point]]:
    """Every (indicator, geo, period) stated by more than one source, with each source's value."""
    rows = con.execute(
        f"""
        WITH keys AS (
            SELECT indicator_id, geo, period_start, period_end FROM observations
            WHERE period_start IS NOT NULL
            GROUP BY ALL HAVING COUNT(DISTINCT source_id) > 1
        )
        SELECT o.indicator_id, {POINT_COLUMNS}
        FROM observations AS o
        JOIN keys AS k ON k.indicator_id = o.indicator_id AND k.geo = o.geo AND k.period_start = o.period_start
         AND k.period_end = o.period_end {POINT_JOINS}
        ORDER BY o.indicator_id, o.geo, o.period_start, o.period_end, picked DESC, o.source_id
        """
    ).fetchall()
    periods: dict[tuple, list[Point]] = defaultdict(list)
    for indicator_id, *point in rows:
        stated = Point(*point)
        periods[(indicator_id, stated.geo, stated.period_start, stated.period_end)].append(stated)
    return periods


def read_conflicts(
    con: duckdb.DuckDBPyConnection, periods: dict[tuple, list[Point]], names: dict[str, str]
) -> list[Conflict]:
    rows = con.execute(
        "SELECT indicator_id, geo, year, period_start, period_end FROM source_conflicts "
        "ORDER BY indicator_id, geo, period_start, period_end"
    ).fetchall()
    return [
        Conflict(i, names.get(i, i), g, y, start, end, periods.get((i, g, start, end), []))
        for i, g, y, start, end in rows
    ]


def read_alerts(con: duckdb.DuckDBPyConnection, relations: set[str]) -> list[dict[str, Any]] | None:
    if "trend_alerts" not in relations:
        return None
    present = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE trend_alerts)").fetchall()}
    columns = [c for c in ALERT_COLUMNS if c in present] or sorted(present)
    # Most severe first, as `octracker alerts` lists them.
    keys = [
        k for k in ("severity_rank DESC", "severity", "rule", "indicator_id", "geo", "year") if k.split()[0] in present
    ]
    order = f" ORDER BY {', '.join(keys)}" if keys else ""
    return records(con.execute(f"SELECT {', '.join(columns)} FROM trend_alerts{order}"))


def previous_generated_at(page: Path) -> dt.datetime | None:
    """When the report at `page` was generated, as it says in its head; None without one (or an older page)."""
    try:
        with page.open(encoding="utf-8") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        return None
    found = GENERATED_META.search(head)
    return dt.datetime.fromisoformat(found.group(1)) if found else None


def read_changes(con: duckdb.DuckDBPyConnection, since: dt.datetime) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The values changed since `since` (newest first, with indicator names) and the counts per kind of change."""
    moment = since.astimezone(dt.UTC).replace(tzinfo=None)
    counts = dict(
        con.execute("SELECT change, COUNT(*) FROM changes WHERE changed_at > ? GROUP BY change", [moment]).fetchall()
    )
    rows = records(
        con.execute(
            "SELECT c.change, c.changed_at, c.indicator_id, i.name AS indicator_name, i.unit, c.geo, c.year, "
            "c.period_start, c.period_end, c.old_value, c.new_value, c.source_id "
            "FROM changes AS c LEFT JOIN indicators AS i USING (indicator_id) WHERE c.changed_at > ? "
            "ORDER BY c.changed_at DESC, c.indicator_id, c.geo, c.period_start, c.source_id LIMIT ?",
            [moment, CHANGES_LISTED],
        )
    )
    return rows, counts


#: The headline's change and rank columns, with the joins that give them (or NULLs when a view is missing).
CHANGE_COLUMNS = ", e.prev_year, e.prev_value, e.change"
CHANGE_JOIN = " LEFT JOIN edition_changes AS e ON e.indicator_id = l.indicator_id AND e.geo = l.geo AND e.year = l.year"
NO_CHANGE_COLUMNS = ", NULL::INTEGER AS prev_year, NULL::DOUBLE AS prev_value, NULL::DOUBLE AS change"
RANK_COLUMNS = ", r.rank, r.n_geos, r.eu_rank, r.eu_median"
RANK_JOIN = " LEFT JOIN index_ranks AS r ON r.indicator_id = l.indicator_id AND r.geo = l.geo AND r.year = l.year"
NO_RANK_COLUMNS = ", NULL AS rank, NULL AS n_geos, NULL AS eu_rank, NULL AS eu_median"


def read_headline(con: duckdb.DuckDBPyConnection, relations: set[str]) -> list[dict[str, Any]]:
    """BE and NL criminality and resilience: latest edition, change since the one before, EU and world rank.

    The ranks come from `index_ranks`, which has rows only when the whole index (every country) is loaded.
    """
    with_changes, with_ranks = "edition_changes" in relations, "index_ranks" in relations
    change_columns, change_join = (CHANGE_COLUMNS, CHANGE_JOIN) if with_changes else (NO_CHANGE_COLUMNS, "")
    rank_columns, rank_join = (RANK_COLUMNS, RANK_JOIN) if with_ranks else (NO_RANK_COLUMNS, "")
    geo_marks = ", ".join("?" for _ in HEADLINE_GEOS)
    indicator_marks = ", ".join("?" for _ in HEADLINE_INDICATORS)
    return records(
        con.execute(
            f"SELECT l.indicator_id, l.indicator_name, l.geo, l.year, l.value, l.method{change_columns}{rank_columns} "
            f"FROM latest_values AS l{change_join}{rank_join} "
            f"WHERE l.geo IN ({geo_marks}) AND l.indicator_id IN ({indicator_marks}) ORDER BY l.geo, l.indicator_id",
            [*HEADLINE_GEOS, *HEADLINE_INDICATORS],
        )
    )


def read_movers(con: duckdb.DuckDBPyConnection, relations: set[str]) -> tuple[list[dict[str, Any]], int]:
    """The largest moves of the catalog's indicators in the places followed: index editions by points, annual
    series by percent (comparable years only). A publisher's native series (`cbs.…`, `unodc.…`) moves here once
    the catalog maps it to an indicator, as it raises alerts only then."""
    parts, counts = [], []
    followed = followed_places_condition(relations)
    if "edition_changes" in relations:
        parts.append(
            "SELECT indicator_id, geo, prev_year, year, prev_value, value, change, NULL AS pct_change, "
            "'edition' AS kind, NULL AS basis, abs(change) / 9 * 100 AS weight FROM edition_changes "
            f"WHERE change IS NOT NULL AND change <> 0 AND {followed}"
        )
        counts.append(
            "SELECT COUNT(*) FROM edition_changes SEMI JOIN indicators USING (indicator_id) "
            f"WHERE change IS NOT NULL AND change <> 0 AND {followed}"
        )
    if "yoy_changes" in relations:
        parts.append(
            "SELECT indicator_id, geo, prev_year, year, prev_value, COALESCE(annualized_value, value), change, "
            "pct_change, 'year' AS kind, basis, abs(pct_change) AS weight FROM yoy_changes WHERE comparable "
            f"AND pct_change IS NOT NULL AND {followed}"
        )
        counts.append(
            "SELECT COUNT(*) FROM yoy_changes SEMI JOIN indicators USING (indicator_id) "
            f"WHERE comparable AND pct_change IS NOT NULL AND {followed}"
        )
    if not parts:
        return [], 0
    # Index points over the 1-10 range and annual percentages, on one scale of "how far it moved".
    rows = records(
        con.execute(
            f"SELECT m.*, i.name AS indicator_name, i.unit FROM ({' UNION ALL '.join(parts)}) AS m "
            "JOIN indicators AS i USING (indicator_id) ORDER BY m.weight DESC, m.indicator_id, m.geo LIMIT ?",
            [MOVERS_SHOWN],
        )
    )
    total = sum(scalar(con, c) for c in counts)
    return rows, total


def change_lookup(con: duckdb.DuckDBPyConnection, relations: set[str]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Each (indicator, geo, year)'s change: between index editions, or on the year before."""
    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    if "edition_changes" in relations:
        for row in records(
            con.execute(
                "SELECT indicator_id, geo, year, prev_year, change FROM edition_changes WHERE change IS NOT NULL"
            )
        ):
            found[(row["indicator_id"], row["geo"], row["year"])] = row
    if "yoy_changes" in relations:
        for row in records(
            con.execute(
                "SELECT indicator_id, geo, year, prev_year, change, pct_change, basis FROM yoy_changes WHERE comparable"
            )
        ):
            found.setdefault((row["indicator_id"], row["geo"], row["year"]), row)
    return found


def reading(row: dict[str, Any], change: dict[str, Any] | None) -> str:
    """A latest value in words: 'score 6.50, +0.50 since 2023', '44 tonnes, -62.1 % on 2023'."""
    unit, value = row["unit"], row["value"]
    text = f"score {value:.2f}" if unit == "score" else f"{value:g} {'' if unit == 'count' else unit}".rstrip()
    if change is None:
        return text
    if unit == "score" or change.get("pct_change") is None:
        step = f"{change['change']:+.2f}" if unit == "score" else f"{change['change']:+g}"
        return f"{text}, {step} since {change['prev_year']}"
    pace = " at its pace so far" if change.get("basis") == "annualized" else ""
    return f"{text}, {change['pct_change']:+.1f} % on {change['prev_year']}{pace}"


#: Publisher flags as words (Eurostat letters; CBS `Voorlopig` arrives as p).
FLAG_WORDS = {"p": "provisional", "e": "estimated", "b": "break in series", "c": "confidential", "u": "low reliability"}


def flag_words(flags: str | None) -> str:
    return ", ".join(FLAG_WORDS.get(f, f) for f in (flags or "") if f.strip())


def build_section(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    data: ReportData,
    geo_order: list[str],
    periods: dict[tuple, list[Point]],
    raw_dir: Path,
    changes: dict[tuple[str, str, int], dict[str, Any]] | None = None,
    with_flags: bool = False,
) -> IndicatorSection:
    """One indicator: its chart, the latest value per place with evidence, its conflicts and undated values,
    for the places in `geo_order` (the places followed)."""
    changes = changes or {}
    charted = set(geo_order)
    points = [p for p in read_points(con, indicator.id) if p.geo in charted]
    chart_svg = (
        render_svg(build_chart(indicator, points, title=False, geo_order=geo_order, places=data.places))
        if points
        else ""
    )
    latest = [
        row
        for row in records(
            con.execute("SELECT * FROM latest_values WHERE indicator_id = ? ORDER BY geo", [indicator.id])
        )
        if row["geo"] in charted
    ]
    # A row of a large table is cited by reference: the report quotes the row itself, read from the raw store.
    cited = with_cited_rows(raw_dir, [(r["evidence"], r["source_id"]) for r in latest if r["evidence"]])
    for row in latest:
        row["evidence"] = cited.get((row["evidence"], row["source_id"]), row["evidence"])
    also = {
        row["geo"]: [
            s
            for s in periods.get((indicator.id, row["geo"], row["period_start"], row["period_end"]), [])
            if s.source_id != row["source_id"]
        ]
        for row in latest
    }
    undated = records(
        con.execute(
            "SELECT o.geo, o.value, o.unit, o.qualifier, o.source_id, src.title AS source_title, o.evidence "
            "FROM observations AS o LEFT JOIN sources AS src USING (source_id) "
            "WHERE o.indicator_id = ? AND o.period_start IS NULL ORDER BY o.geo, o.source_id",
            [indicator.id],
        )
    )
    conflicts = [c for c in data.conflicts if c.indicator_id == indicator.id]
    section = IndicatorSection(indicator, chart_svg, latest, {g: v for g, v in also.items() if v}, conflicts, undated)
    section.official = bool(
        scalar(
            con,
            "SELECT coalesce(bool_and(list_contains(?, s.kind)), false) FROM observations AS o "
            "JOIN sources AS s USING (source_id) WHERE o.indicator_id = ?",
            [OFFICIAL_KINDS, indicator.id],
        )
    )
    for row in latest:
        section.readings[row["geo"]] = reading(row, changes.get((indicator.id, row["geo"], row["year"])))
        if with_flags:
            (flags,) = con.execute(
                "SELECT flags FROM observations WHERE indicator_id = ? AND geo = ? AND period_start = ? "
                "AND period_end = ? AND source_id = ?",
                [indicator.id, row["geo"], row["period_start"], row["period_end"], row["source_id"]],
            ).fetchone() or (None,)
            if flag_words(flags):
                section.flags[row["geo"]] = flag_words(flags)
    return section


def collect_report(
    settings: Settings,
    on_progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
    changes_since: dt.datetime | None = None,
) -> ReportData:
    """Read everything the report shows from the published copy (or the lake), rendering one chart per indicator."""
    published = settings.read_target
    with locked_reader(published) as con:
        relations = existing_relations(con)
        missing = [v for v in REQUIRED_VIEWS if v not in relations]
        if missing:
            where = settings.lake.describe() if settings.lake is not None else published
            raise OctrackerError(
                f"{where}: the published warehouse has no {', '.join(missing)} view; run "
                "`octracker refresh` to rebuild the views, then the report"
            )
        indicators = read_indicators(con)
        names = {i.id: i.name for i in indicators}
        periods = read_multi_source_periods(con)
        data = ReportData(
            generated_at=now or dt.datetime.now(dt.UTC),
            published_at=published_time(con, published),
            places=load_place_names(settings.schemas_dir),
            n_values=scalar(con, "SELECT COUNT(*) FROM observations"),
            n_sources=scalar(con, "SELECT COUNT(DISTINCT source_id) FROM observations"),
            alerts=read_alerts(con, relations),
        )
        data.conflicts = read_conflicts(con, periods, names)
        if changes_since is not None and "changes" in relations:
            data.changes_since = changes_since
            data.changes, data.change_counts = read_changes(con, changes_since)
        data.headline = read_headline(con, relations)
        data.movers, data.movers_total = read_movers(con, relations)
        changes = change_lookup(con, relations)
        with_flags = "flags" in {
            r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE observations)").fetchall()
        }
        # Every charted place in one order, so that a place has the same colour in every chart.
        # Only the charted indicators' places: a publisher's native series (every country of Europe) is not charted.
        # And only the places followed: the other countries of a whole-world table are not charted.
        charted = [i.id for i in indicators]
        geo_order = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT geo FROM observations WHERE period_start IS NOT NULL "
                f"AND list_contains(?, indicator_id) AND {followed_places_condition(relations)} ORDER BY geo",
                [charted],
            ).fetchall()
        ]
        for n, indicator in enumerate(indicators, start=1):
            data.sections.append(
                build_section(con, indicator, data, geo_order, periods, settings.raw_dir, changes, with_flags)
            )
            if on_progress:
                on_progress(n, len(indicators), indicator.id)
    return data


def write_report(settings: Settings, out_dir: Path, on_progress: ProgressFn | None = None) -> tuple[Path, ReportData]:
    """Write `out_dir/index.html` whole (a reader never sees half a file) and return its path."""
    target = out_dir / "index.html"
    data = collect_report(settings, on_progress, changes_since=previous_generated_at(target))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".index.html.{os.getpid()}.tmp"
    try:
        tmp.write_text(render_report(data), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target, data

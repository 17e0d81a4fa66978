"""The report's HTML: every text from a document or sidecar goes through `esc`, every link through `safe_url`."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import TYPE_CHECKING, Any

from octracker import __version__
from octracker.content.geographies import geo_label

if TYPE_CHECKING:
    from octracker.serve.charts import Point
    from octracker.serve.report import Conflict, IndicatorSection, ReportData

#: Nothing may load or run: no scripts, no fonts, no images from anywhere; only the inline styles.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
QUALIFIER_SIGNS = {"exact": "", "approx": "≈ ", "lower_bound": "≥ ", "upper_bound": "≤ "}
QUALIFIER_WORDS = {"approx": "approximate", "lower_bound": "lower bound", "upper_bound": "upper bound"}
FAMILY_TITLES = {"oci": "Global Organized Crime Index"}

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:64rem;
padding:0 1.25rem 3rem}
header{border-bottom:2px solid #2a3f5f;margin-bottom:1rem}
h1{font-size:1.7rem;margin:1.2rem 0 .2rem}h2{font-size:1.35rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.1rem;margin:1.8rem 0 .3rem}h3 small,.meta,.note{color:#666;font-weight:normal}
.meta{margin:.2rem 0 .8rem}.note{font-size:.9rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border-bottom:1px solid #e4e4e4;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
blockquote{margin:.2rem 0;padding:.1rem .6rem;border-left:3px solid #ccc;color:#333;font-style:italic}
figure.chart{margin:.4rem 0}figure.chart svg{width:100%;max-width:46rem;height:auto}
.tag{display:inline-block;font-size:.78rem;padding:0 .4rem;border-radius:.6rem;background:#eef1f5;color:#445;
margin-left:.3rem;white-space:nowrap}.tag.warn{background:#fff1e0;color:#8a4b00}.tag.alert{background:#fde8e8;
color:#9b1c1c}
.side{display:flex;flex-wrap:wrap;gap:.6rem}.side>div{border:1px solid #e4e4e4;border-radius:.3rem;padding:.3rem .5rem;
flex:1 1 14rem}.side .value{font-size:1.1rem;font-weight:600}
table.alerts td:first-child{width:6rem}table.alerts td:nth-child(2){width:14rem}
nav ul{columns:2;padding-left:1.1rem;margin:.3rem 0}
.reading{font-weight:600;margin:.1rem 0}.tag.flag{background:#fff4c2;color:#6b5200}
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:0 1.5rem}.pair h3{font-size:1rem}
.pair td{overflow-wrap:anywhere}
@media (max-width:60rem){.pair{grid-template-columns:1fr}nav ul{columns:1}table.latest td:nth-child(2){width:6rem}}
@media print{nav{display:none}h3{break-after:avoid}figure.chart{break-inside:avoid}}
"""


def esc(value: Any) -> str:
    """Text for HTML: every character a browser would read as markup is escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links: a `javascript:` or `data:` URL from a sidecar must never become a link."""
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url, flags=re.IGNORECASE) else None


def anchor(indicator_id: str) -> str:
    return "ind-" + re.sub(r"[^a-zA-Z0-9_-]", "-", indicator_id)


def format_number(value: float, unit: str) -> str:
    if unit == "score":
        return f"{value:.2f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}"


def format_value(value: float, unit: str, qualifier: str) -> str:
    """'≈ 90 tonnes', '≥ 60 count', '5.33 score'."""
    return f"{QUALIFIER_SIGNS.get(qualifier, '')}{format_number(value, unit)} {unit}"


def format_period(
    year: int | None, start: dt.date | None, end: dt.date | None, is_partial: bool, as_of: dt.date | None
) -> str:
    if start is None or end is None:
        return "period not stated"
    whole_year = start == dt.date(start.year, 1, 1) and end == dt.date(start.year, 12, 31)
    text = str(start.year) if whole_year or is_partial and start == dt.date(start.year, 1, 1) else f"{start} – {end}"
    if is_partial:
        text += f" so far (to {as_of:%-d %B %Y})" if as_of else " so far (the source gives no date)"
    return text


def format_published(on: dt.date | None, precision: str | None) -> str:
    if on is None or precision in (None, "unknown"):
        return "publication date not stated"
    return {"day": f"{on:%-d %B %Y}", "month": f"{on:%B %Y}", "year": f"{on:%Y}"}.get(precision, str(on))


def value_tags(qualifier: str, is_partial: bool, method: str | None = None) -> str:
    tags = []
    if qualifier in QUALIFIER_WORDS:
        tags.append(f'<span class="tag warn">{QUALIFIER_WORDS[qualifier]}</span>')
    if is_partial:
        tags.append('<span class="tag warn">partial period</span>')
    if method and method != "parsed":
        tags.append(f'<span class="tag">{esc(method)}</span>')
    return "".join(tags)


def source_cite(
    title: str | None,
    source_id: str,
    publisher: str | None = None,
    published: str | None = None,
    url: str | None = None,
) -> str:
    name = esc(title or source_id)
    link = safe_url(url)
    name = f'<a href="{esc(link)}" rel="noopener noreferrer">{name}</a>' if link else name
    details = " · ".join(esc(p) for p in (publisher, published) if p)
    return (
        f"<cite>{name}</cite>"
        + (f" <span class=note>({details})</span>" if details else "")
        + f" <span class=note>[{esc(source_id)}]</span>"
    )


def stated_boxes(stated: list[Point], places: dict[str, str] | None = None) -> str:
    """Each source's value for one period, side by side; the one `series` uses is marked."""
    boxes = []
    for s in stated:
        used = '<span class="tag">used in series</span>' if s.picked else ""
        boxes.append(
            f'<div><span class="value">{esc(format_value(s.value, s.unit, s.qualifier))}</span>'
            f"{value_tags(s.qualifier, s.is_partial)}{used}<br>{source_cite(s.source_title, s.source_id)}"
            f"<blockquote>{esc(s.evidence)}</blockquote></div>"
        )
    return f'<div class="side">{"".join(boxes)}</div>'


def changes_html(data: ReportData) -> str:
    """The values new, revised or retracted since the report last written to the same folder."""
    if data.changes_since is None or data.changes is None:
        return "<p class=note>No earlier report in this folder to compare with.</p>"
    total = sum(data.change_counts.values())
    if not total:
        return "<p>No value changed.</p>"
    counts = ", ".join(f"{data.change_counts.get(k, 0)} {k}" for k in ("new", "revised", "retracted"))
    rows = []
    for c in data.changes:
        unit = c.get("unit") or ""
        old = "" if c["old_value"] is None else format_number(c["old_value"], unit)
        new = "" if c["new_value"] is None else format_number(c["new_value"], unit)
        period = format_period(c.get("year"), c["period_start"], c["period_end"], False, None)
        name = c.get("indicator_name") or c["indicator_id"]
        place = geo_label(c["geo"], data.places)
        rows.append(
            f'<tr><td><span class="tag">{esc(c["change"])}</span></td>'
            f'<td><a href="#{anchor(c["indicator_id"])}">{esc(name)}</a><br><span class=note>{esc(place)}, '
            f"{esc(period)}</span></td><td>{esc(old)}</td><td>{esc(new)}</td><td>{esc(c['source_id'])}</td></tr>"
        )
    more = (
        f"<p class=note>The {len(data.changes)} latest are listed; <code>octracker changes --since "
        f"{data.changes_since:%Y-%m-%dT%H:%M:%S}</code> lists all {total}.</p>"
        if total > len(data.changes)
        else ""
    )
    return (
        f"<p>{esc(counts)} since {data.changes_since:%Y-%m-%d %H:%M} UTC.</p><table class=alerts><tr><th>change</th>"
        f"<th>indicator, place and period</th><th>was</th><th>now</th><th>source</th></tr>{''.join(rows)}</table>"
        + more
    )


def conflict_html(conflict: Conflict, places: dict[str, str], with_indicator: bool) -> str:
    period = format_period(conflict.year, conflict.period_start, conflict.period_end, False, None)
    what = f'<a href="#{anchor(conflict.indicator_id)}">{esc(conflict.indicator_name)}</a>, ' if with_indicator else ""
    return (
        f"<div class=conflict><p><strong>{what}{esc(geo_label(conflict.geo, places))}, {esc(period)}</strong>: "
        f"{len(conflict.stated)} sources state different values</p>{stated_boxes(conflict.stated, places)}</div>"
    )


def conflicts_html(data: ReportData) -> str:
    if not data.conflicts:
        return "<p>No sources disagree.</p>"
    return "".join(conflict_html(c, data.places, True) for c in data.conflicts)


def latest_html(section: IndicatorSection, places: dict[str, str]) -> str:
    if not section.latest:
        return "<p class=note>No value with a stated period.</p>"
    rows = []
    for r in section.latest:
        published = format_published(r["source_published_on"], r["source_published_precision"])
        period = format_period(r["year"], r["period_start"], r["period_end"], r["is_partial"], r["as_of"])
        others = section.also_stated.get(r["geo"])
        also = f"<p class=note>Also stated for this period:</p>{stated_boxes(others, places)}" if others else ""
        flags = section.flags.get(r["geo"])
        flag_tags = "".join(f'<span class="tag flag">{esc(f)}</span>' for f in flags.split(", ")) if flags else ""
        words = section.readings.get(r["geo"], "")
        rows.append(
            f"<tr><td>{esc(geo_label(r['geo'], places))}</td><td>{esc(period)}</td>"
            f"<td class=num>{esc(format_value(r['value'], r['unit'], r['qualifier']))}</td>"
            f"<td><p class=reading>{esc(words)}{value_tags(r['qualifier'], r['is_partial'], r['method'])}"
            f"{flag_tags}</p><blockquote>{esc(r['evidence'])}</blockquote>"
            f"{source_cite(r['source_title'], r['source_id'], r['source_publisher'], published, r['source_url'])}"
            f"{also}</td></tr>"
        )
    return (
        "<table class=latest><tr><th>Place</th><th>Latest period</th><th>Value</th><th>Evidence and source</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def undated_html(section: IndicatorSection, places: dict[str, str]) -> str:
    if not section.undated:
        return ""
    items = "".join(
        f"<li>{esc(geo_label(u['geo'], places))}: {esc(format_value(u['value'], u['unit'], u['qualifier']))} "
        f"({source_cite(u['source_title'], u['source_id'])})<blockquote>{esc(u['evidence'])}</blockquote></li>"
        for u in section.undated
    )
    return (
        f"<p class=note>{len(section.undated)} value(s) without a stated period are kept but not charted:</p>"
        f"<ul>{items}</ul>"
    )


def section_html(section: IndicatorSection, places: dict[str, str]) -> str:
    ind = section.indicator
    facts = " · ".join(esc(p) for p in (ind.id, ind.unit, ind.frequency, ind.direction.replace("_", " ")))
    chart = (
        f'<figure class="chart" aria-label="{esc(ind.name)}: values per place over time">{section.chart_svg}</figure>'
        if section.chart_svg
        else ""
    )
    disagree = ""
    if section.conflicts:
        disagree = "<h4>Sources disagree</h4>" + "".join(conflict_html(c, places, False) for c in section.conflicts)
    return (
        f'<section class="indicator" id="{anchor(ind.id)}"><h3>{esc(ind.name)} <small>{facts}</small></h3>'
        f"<p class=note>{esc(ind.description)}</p>{chart}{latest_html(section, places)}{disagree}"
        f"{undated_html(section, places)}</section>"
    )


def family_of(indicator_id: str) -> str:
    return indicator_id.split(".", 1)[0] if "." in indicator_id else ""


def families(data: ReportData) -> list[tuple[str, list[IndicatorSection]]]:
    """Sections grouped by id prefix (`oci.` is the index), in the order the catalog lists them."""
    groups: dict[str, list[IndicatorSection]] = {}
    for section in data.sections:
        groups.setdefault(family_of(section.indicator.id), []).append(section)
    return [
        (FAMILY_TITLES.get(f, f.upper() if f else "Figures from articles and statistics"), s) for f, s in groups.items()
    ]


PRESS_TITLE = "Figures from articles"


def body_html(data: ReportData, groups: list[tuple[str, list[IndicatorSection]]]) -> str:
    """The index first; official statistics and press figures side by side (two columns on a wide screen).

    Official: an indicator whose values all come from statistics offices' tables (Eurostat, CBS, UNODC);
    the press column holds the other figures outside the index (from articles, or from both).
    """
    official = [s for s in data.sections if s.official]
    press = [s for s in data.sections if family_of(s.indicator.id) == "" and not s.official]
    shown_together = {id(s) for s in official + press} if official and press else set()
    parts = []
    for title, sections in groups:
        rest = [s for s in sections if id(s) not in shown_together]
        if rest:
            parts.append(f"<h2>{esc(title)}</h2>" + "".join(section_html(s, data.places) for s in rest))
    if shown_together:
        parts.append(
            "<h2>Official statistics beside the press figures</h2><div class=pair>"
            "<div><h3>Official statistics (Eurostat, CBS, UNODC)</h3>"
            f"{''.join(section_html(s, data.places) for s in official)}</div>"
            f"<div><h3>{PRESS_TITLE}</h3>{''.join(section_html(s, data.places) for s in press)}</div></div>"
        )
    return "".join(parts)


def render_report(data: ReportData) -> str:
    from octracker.serve.report_front import FRONT_STYLE, compact_alerts_html, headline_html, movers_html

    groups = families(data)
    nav = "".join(
        f"<li><strong>{esc(title)}</strong><ul>"
        + "".join(f'<li><a href="#{anchor(s.indicator.id)}">{esc(s.indicator.name)}</a></li>' for s in sections)
        + "</ul></li>"
        for title, sections in groups
    )
    body = body_html(data, groups)
    n_alerts = "no alerts view" if data.alerts is None else f"{len(data.alerts)} open alert(s)"
    summary = (
        f"{len(data.sections)} indicators, {data.n_values} values from {data.n_sources} sources; "
        f"{n_alerts}; {len(data.conflicts)} period(s) where sources disagree."
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="octracker {esc(__version__)}">
<meta name="octracker-generated-at" content="{data.generated_at.isoformat()}">
<title>octracker report</title>
<style>{STYLE}{FRONT_STYLE}</style>
</head>
<body>
<header>
<h1>Organized-crime indicators</h1>
<p class="meta">Generated {data.generated_at:%Y-%m-%d %H:%M} UTC from the warehouse published
{data.published_at:%Y-%m-%d %H:%M} UTC. {esc(summary)}</p>
</header>
<section id="overview">
<h2>Belgium and the Netherlands in the Global Organized Crime Index</h2>
{headline_html(data)}
<h3>Biggest movers</h3>
{movers_html(data)}
<h3>Open alerts</h3>
{compact_alerts_html(data)}
<h3>Changed since the last report</h3>
{changes_html(data)}
<h3>Sources that disagree</h3>
{conflicts_html(data)}
<h3>How to read the charts</h3>
<p>Each place has one colour. A filled dot is an exact value for a whole period, as the source prints it; a
hollow diamond is a value the source does not print (a previous edition's score derived from the printed
change, or an aggregate computed as the mean of its components). Other hollow shapes are values the source
states only approximately (circle), as a lower bound (▲) or upper bound (▼), or for part of a period (square;
labelled "so far"). Index charts share one axis, from 1 to 10. The line joins the whole-period values the
series uses that are stated as points, never a bound or a partial period; when several sources state a period,
their dots stand side by side and the table below the chart names each source.</p>
<nav><h3>Indicators</h3><ul>{nav}</ul></nav>
</section>
{body}
<footer><p class="note">octracker {esc(__version__)}. Every value comes with the sentence or line of its source it
was read from; computed and derived values say how they were obtained.</p></footer>
</body>
</html>
"""

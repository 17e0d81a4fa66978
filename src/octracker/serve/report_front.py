"""The report's front page: the headline panel, the biggest movers and the open alerts, one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from octracker.content.geographies import geo_label
from octracker.serve.alert_text import number, short_message
from octracker.serve.report_html import anchor, esc

if TYPE_CHECKING:
    from octracker.serve.report import ReportData

FRONT_STYLE = """
.panel{display:grid;grid-template-columns:repeat(4,1fr);gap:.75rem;margin:.6rem 0 1rem}
.card{border:1px solid #d8dee8;border-radius:.4rem;padding:.55rem .75rem;background:#fbfcfe}
.card h4{margin:0;font-size:.95rem;color:#2a3f5f}.card .big{font-size:1.9rem;font-weight:650;line-height:1.2}
.card .big small{font-size:.9rem;font-weight:normal;color:#666}.up{color:#9b1c1c}.down{color:#1c6b3a}
.flat{color:#666}.card p{margin:.15rem 0;font-size:.88rem}
table.compact td,table.compact th{padding:.2rem .45rem}table.compact td{white-space:nowrap}
table.compact td.msg{white-space:normal}
details summary{cursor:pointer;color:#2a3f5f}details p{margin:.2rem 0 .4rem;font-size:.88rem;color:#333}
@media (max-width:60rem){.panel{grid-template-columns:repeat(2,1fr)}table.compact td{white-space:normal}}
@media (max-width:34rem){.panel{grid-template-columns:1fr}}
"""


def move_class(change: float | None, direction: str) -> str:
    """Red for a move the bad way (criminality up, resilience down), green for the good way."""
    if not change:
        return "flat"
    worse = change > 0 if direction == "up_is_bad" else change < 0
    return "up" if worse else "down"


def headline_html(data: ReportData) -> str:
    """One card per place and pillar: the latest edition's score, its change, its ranks when the index is whole."""
    if not data.headline:
        return "<p class=note>No index scores for Belgium or the Netherlands in this warehouse yet.</p>"
    cards = []
    for h in data.headline:
        direction = "down_is_bad" if h["indicator_id"].endswith("resilience") else "up_is_bad"
        if h["change"] is None:
            change = "<p class=flat>no earlier edition to compare with</p>"
        else:
            arrow = "▲" if h["change"] > 0 else "▼" if h["change"] < 0 else "■"
            change = (
                f'<p class="{move_class(h["change"], direction)}">{arrow} {h["change"]:+.2f} since '
                f"{h['prev_year']} ({h['prev_value']:.2f})</p>"
            )
        if h["rank"] is not None:
            eu = f"; EU rank {h['eu_rank']} (EU median {h['eu_median']:.2f})" if h["eu_rank"] else ""
            ranks = f"<p>world rank {h['rank']} of {h['n_geos']}{eu}</p>"
        else:
            ranks = "<p class=note>world and EU ranks: load the whole index (the workbook) to see them</p>"
        how = " (mean of its components)" if h["method"] == "computed" else ""
        cards.append(
            f'<div class="card"><h4>{esc(geo_label(h["geo"], data.places))} · '
            f'<a href="#{anchor(h["indicator_id"])}">{esc(h["indicator_name"])}</a></h4>'
            f'<div class="big">{h["value"]:.2f} <small>/ 10, {h["year"]} edition{esc(how)}</small></div>'
            f"{change}{ranks}</div>"
        )
    return f'<div class="panel">{"".join(cards)}</div>'


def mover_change(m: dict[str, Any]) -> str:
    if m["kind"] == "edition":
        return f"{m['change']:+.2f} points"
    return f"{m['pct_change']:+.1f} %" + (" (at its pace so far)" if m["basis"] == "annualized" else "")


def movers_html(data: ReportData) -> str:
    if not data.movers:
        return "<p>No changes between comparable periods yet.</p>"
    rows = []
    for m in data.movers:
        unit = m["unit"] or ""
        rows.append(
            f'<tr><td><a href="#{anchor(m["indicator_id"])}">{esc(m["indicator_name"] or m["indicator_id"])}</a></td>'
            f"<td>{esc(geo_label(m['geo'], data.places))}</td><td>{m['prev_year']} → {m['year']}</td>"
            f"<td class=num>{esc(number(m['prev_value'], unit))} → {esc(number(m['value'], unit))}"
            f" {esc('' if unit in ('count', 'score') else unit)}</td>"
            f"<td class=num>{esc(mover_change(m))}</td></tr>"
        )
    more = (
        f"<p class=note>showing {len(data.movers)} of {data.movers_total} changes in the places followed; every "
        "change of every place: "
        '<code>octracker sql "SELECT * FROM edition_changes"</code> and <code>… FROM yoy_changes</code></p>'
        if data.movers_total > len(data.movers)
        else ""
    )
    return (
        "<table class=compact><tr><th>indicator</th><th>place</th><th>period</th><th>from → to</th><th>change</th>"
        f"</tr>{''.join(rows)}</table>{more}"
    )


def compact_alerts_html(data: ReportData) -> str:
    """One line per open alert (severity, place, indicator, what moved); the full message folds out."""
    if data.alerts is None:
        return "<p class=note>Trend alerts are not computed in this warehouse (it has no trend_alerts view).</p>"
    if not data.alerts:
        return "<p>No open alerts.</p>"
    rows = []
    for a in data.alerts:
        indicator_id = a.get("indicator_id") or ""
        name = a.get("indicator_name") or indicator_id
        what = short_message(a) if a.get("message") else esc(a.get("rule"))
        rows.append(
            f'<tr><td><span class="tag alert">{esc(a.get("severity"))}</span></td>'
            f"<td>{esc(geo_label(a.get('geo') or '', data.places))}</td>"
            f'<td><a href="#{anchor(indicator_id)}">{esc(name)}</a></td>'
            f"<td class=msg><details><summary>{esc(what)}</summary><p>{esc(a.get('message'))}</p></details></td></tr>"
        )
    return (
        f"<p>{len(data.alerts)} open alert(s), most severe first; click one for its full message.</p>"
        "<table class=compact><tr><th>severity</th><th>place</th><th>indicator</th><th>what moved</th></tr>"
        f"{''.join(rows)}</table>"
    )

"""`octracker status` as a person reads it: tables that fit the terminal, cut lists that say how to see the rest."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.table import Table
from rich.text import Text

from octracker.cli.output import fits, show_table, showing_line
from octracker.content.documents import stated_date
from octracker.serve.status import FAILED_RESULTS, REFUSED, StatusReport

#: Stale series listed in the table; JSON lists them all.
STALE_SHOWN = 15
RESULT_STYLES = {
    "success": "green",
    "unchanged": "green",
    "failed": "red",
    "refused": "red",
    "interrupted": "yellow",
    "missed": "yellow",
    "running": "cyan",
    "never run": "dim",
}


def when(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A UTC time to the minute, with how far off it is when `now` is given."""
    if value is None:
        return ""
    text = f"{value:%Y-%m-%d %H:%M} UTC"
    if now is not None:
        minutes = int((value - now).total_seconds() // 60)
        hours, mins = divmod(abs(minutes), 60)
        days, hours = divmod(hours, 24)
        span = f"{days}d {hours}h" if days else f"{hours}h {mins:02d}m" if hours else f"{mins}m"
        text += f" (in {span})" if minutes >= 0 else f" ({span} ago)"
    return text


def count(value: int | None) -> str:
    return "" if value is None else str(value)


def short_when(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A UTC time for a narrow terminal: how far off when `now` is given and it is within a day, else MM-DD HH:MM."""
    if value is None:
        return ""
    full = when(value, now)
    if now is not None and "d " not in full:
        return full[full.index("(") + 1 : -1]
    return f"{value:%m-%d %H:%M}"


def next_run_text(p, report: StatusReport, *, short: bool = False) -> str:
    if p.runs_with:
        return f"with {p.runs_with}"
    if not p.has_spec:
        return "no spec any more"
    if not p.enabled:
        return "disabled"
    if p.schedule_error:
        return "bad schedule"
    if p.next_run is None:
        return "not scheduled"
    return short_when(p.next_run, report.checked_at) if short else when(p.next_run, report.checked_at)


PIPELINE_COLUMNS = (
    "pipeline",
    "last run",
    "result",
    "new",
    "revised",
    "unchanged",
    "quarantined",
    "rows now",
    "next run",
)
SHORT_PIPELINE_COLUMNS = ("pipeline", "last run", "result", "new", "rev", "same", "quar", "rows", "next run")
#: On a narrow terminal the pipeline's name stays whole (it is what `refresh NAME` takes); these columns give way
#: first, in this order (the quarantine has its own section, rows now are counted per source under Sources).
PIPELINE_COLUMNS_GIVEN_UP = ("same", "rows", "quar", "rev", "next run")
JSON_COMMAND = "octracker status --json"
COUNT_COLUMNS = {"new", "revised", "unchanged", "quarantined", "rows now", "rev", "same", "quar", "rows"}


def pipeline_rows(report: StatusReport) -> list[list[str]]:
    """The pipelines table's rows in a few characters each, for a narrow terminal (times as MM-DD HH:MM)."""
    return [
        [
            p.pipeline,
            short_when(p.last_run_at, report.checked_at),
            p.result,
            count(p.rows_new),
            count(p.rows_revised),
            count(p.rows_unchanged),
            count(p.rows_quarantined),
            str(p.rows_current),
            next_run_text(p, report, short=True),
        ]
        for p in report.pipelines
    ]


def pipelines_table(report: StatusReport) -> Table:
    table = Table(title="Pipelines", title_justify="left", header_style="bold")
    for column in PIPELINE_COLUMNS:
        table.add_column(column, justify="right" if column in COUNT_COLUMNS else "left")
    for p in report.pipelines:
        next_text = Text(next_run_text(p, report), style="red" if p.schedule_error else "")
        if p.runs_with or not p.has_spec or not p.enabled or p.next_run is None and not p.schedule_error:
            next_text.stylize("dim")
        table.add_row(
            p.pipeline,
            when(p.last_run_at),
            Text(p.result, style=RESULT_STYLES.get(p.result, "")),
            count(p.rows_new),
            count(p.rows_revised),
            count(p.rows_unchanged),
            count(p.rows_quarantined),
            str(p.rows_current),
            next_text,
        )
    return table


def print_problems(console: Console, report: StatusReport) -> None:
    """Errors of failed last runs and bad schedules, as plain text folded to the terminal."""
    for p in report.pipelines:
        if (p.result in FAILED_RESULTS or p.result == REFUSED) and p.error:
            message = p.error if len(p.error) <= 400 else p.error[:400] + "…"
            console.print(f"{p.pipeline}: {message}", style="red", markup=False, highlight=False)
        if p.schedule_error:
            console.print(p.schedule_error, style="red", markup=False, highlight=False)


def quarantine_section(console: Console, report: StatusReport) -> None:
    if report.published_at is None:
        return
    if not report.quarantine:
        console.print("Quarantine: empty")
        return
    columns = ("pipeline", "rows", "in last refusal", "newest", "newest reasons")
    table = Table(title="Quarantine (newest first)", title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in {"rows", "in last refusal"} else "left", overflow="fold")
    rows = []
    for q in report.quarantine:
        reasons = "\n".join(q.newest_reasons)
        more = q.last_run_rows - len(q.newest_reasons)
        if more > 0:
            reasons += f"\n… and {more} more"
        table.add_row(q.pipeline, str(q.rows), str(q.last_run_rows), when(q.newest_at), reasons)
        rows.append([q.pipeline, str(q.rows), str(q.last_run_rows), short_when(q.newest_at), q.newest_reasons[0]])
    if fits(console, table):
        console.print(table, markup=False, highlight=False)
    else:
        # Narrow terminal: one line per pipeline, then its reasons folded beneath.
        show_table(
            console,
            table,
            ("pipeline", "rows", "last", "newest", "first reason"),
            rows,
            ("rows", "last"),
            whole=("pipeline",),
        )
        for q in report.quarantine:
            for reason in q.newest_reasons[1:]:
                console.print(f"{q.pipeline}: {reason}", markup=False, highlight=False)
    hidden = sum(q.last_run_rows - len(q.newest_reasons) for q in report.quarantine)
    shown = sum(len(q.newest_reasons) for q in report.quarantine)
    line = showing_line(
        shown,
        shown + max(hidden, 0),
        "reasons",
        'octracker sql "SELECT * FROM quarantine ORDER BY quarantined_at DESC"',
    )
    if line:
        console.print(line, markup=False, highlight=False)


def stale_section(console: Console, report: StatusReport) -> None:
    if report.published_at is None:
        return
    if not report.stale_series:
        console.print("Stale series: none (every series' latest period is within its frequency's cadence)")
        return
    columns = ("indicator", "geo", "frequency", "latest period end", "stale since", "days overdue")
    table = Table(title=f"Stale series ({len(report.stale_series)})", title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column == "days overdue" else "left")
    rows = [
        [s.indicator_id, s.geo, s.frequency, str(s.latest_period_end), str(s.stale_after), str(s.days_overdue)]
        for s in report.stale_series[:STALE_SHOWN]
    ]
    for row in rows:
        table.add_row(*row)
    short = ("indicator", "geo", "frequency", "data to", "stale since", "overdue")
    show_table(console, table, columns if fits(console, table) else short, rows, ("days overdue", "overdue"))
    line = showing_line(
        len(rows),
        len(report.stale_series),
        "stale series",
        "octracker status --json",
    )
    if line:
        console.print(line, markup=False, highlight=False)


def alerts_line(report: StatusReport) -> str:
    if report.published_at is None:
        return ""
    if report.open_alerts is None:
        return "Open alerts: not computed in this warehouse (it has no trend_alerts view)"
    detail = ", ".join(f"{n} {severity}" for severity, n in (report.open_alerts_by_severity or {}).items())
    return f"Open alerts: {report.open_alerts}" + (f" ({detail})" if detail else "") + "; octracker alerts lists them"


def sources_table(console: Console, report: StatusReport) -> None:
    columns = ("source", "kind", "published", "precedence", "observations")
    table = Table(title="Sources", title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in {"precedence", "observations"} else "left")
    rows = [
        [
            s.source_id,
            s.kind,
            stated_date(s.published_on, s.published_precision),
            str(s.precedence),
            str(s.observations),
        ]
        for s in report.sources
    ]
    for row in rows:
        table.add_row(*row)
    short = ("source", "kind", "published", "prec.", "values")
    show_table(
        console,
        table,
        columns if fits(console, table) else short,
        rows,
        ("precedence", "observations", "prec.", "values"),
        whole=("source",),
        optional=("prec.",),
        all_columns=JSON_COMMAND,
    )


def print_status(console: Console, report: StatusReport) -> None:
    if report.published_at is None:
        console.print(
            f"Warehouse {report.warehouse}: nothing published yet; run `octracker refresh`",
            markup=False,
            highlight=False,
        )
    else:
        console.print(
            f"Warehouse {report.warehouse}, published {when(report.published_at)}", markup=False, highlight=False
        )
    table = pipelines_table(report)
    if fits(console, table):
        console.print(table, highlight=False)
    else:
        show_table(
            console,
            table,
            SHORT_PIPELINE_COLUMNS,
            pipeline_rows(report),
            tuple(COUNT_COLUMNS),
            whole=("pipeline",),
            optional=PIPELINE_COLUMNS_GIVEN_UP,
            all_columns=JSON_COMMAND,
        )
    print_problems(console, report)
    quarantine_section(console, report)
    stale_section(console, report)
    if alerts_line(report):
        console.print(alerts_line(report), markup=False, highlight=False)
    if report.sources:
        sources_table(console, report)

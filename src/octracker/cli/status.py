"""`octracker status`: pipelines' last and next runs, quarantine, stale series and open alerts at a glance."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from rich.console import Console
from rich.table import Table

from octracker.content.documents import stated_date
from octracker.serve.status import FAILED_RESULTS, StatusReport, collect_status

#: Stale series listed in the table; JSON lists them all.
STALE_SHOWN = 15
RESULT_STYLES = {
    "success": "green",
    "unchanged": "green",
    "failed": "red",
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


def pipelines_table(report: StatusReport) -> Table:
    table = Table(title="Pipelines", title_justify="left", header_style="bold")
    for column in (
        "pipeline",
        "last run",
        "result",
        "new",
        "revised",
        "unchanged",
        "quarantined",
        "rows now",
        "next run",
    ):
        table.add_column(
            column, justify="right" if column in {"new", "revised", "unchanged", "quarantined", "rows now"} else "left"
        )
    for p in report.pipelines:
        if p.runs_with:
            next_text = f"[dim]with {p.runs_with}[/]"
        elif not p.has_spec:
            next_text = "[dim]no spec any more[/]"
        elif not p.enabled:
            next_text = "[dim]disabled[/]"
        elif p.schedule_error:
            next_text = "[red]bad schedule[/]"
        elif p.next_run is None:
            next_text = "[dim]not scheduled[/]"
        else:
            next_text = when(p.next_run, report.checked_at)
        style = RESULT_STYLES.get(p.result, "")
        table.add_row(
            p.pipeline,
            when(p.last_run_at),
            f"[{style}]{p.result}[/]" if style else p.result,
            count(p.rows_new),
            count(p.rows_revised),
            count(p.rows_unchanged),
            count(p.rows_quarantined),
            str(p.rows_current),
            next_text,
        )
    return table


def print_problems(console: Console, report: StatusReport) -> None:
    """Errors of failed last runs and bad schedules, one line each, as plain text."""
    for p in report.pipelines:
        if p.result in FAILED_RESULTS and p.error:
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
    table = Table(title="Quarantine (newest first)", title_justify="left", header_style="bold")
    for column in ("pipeline", "rows", "in last refusal", "newest", "newest reasons"):
        table.add_column(column, justify="right" if column in {"rows", "in last refusal"} else "left", overflow="fold")
    for q in report.quarantine:
        reasons = "\n".join(q.newest_reasons)
        more = q.last_run_rows - len(q.newest_reasons)
        if more > 0:
            reasons += f"\n… and {more} more"
        table.add_row(q.pipeline, str(q.rows), str(q.last_run_rows), when(q.newest_at), reasons)
    console.print(table, markup=False, highlight=False)


def stale_section(console: Console, report: StatusReport) -> None:
    if report.published_at is None:
        return
    if not report.stale_series:
        console.print("Stale series: none (every series' latest period is within its frequency's cadence)")
        return
    table = Table(title=f"Stale series ({len(report.stale_series)})", title_justify="left", header_style="bold")
    for column in ("indicator", "geo", "frequency", "latest period end", "stale since", "days overdue"):
        table.add_column(column, justify="right" if column == "days overdue" else "left")
    for s in report.stale_series[:STALE_SHOWN]:
        table.add_row(
            s.indicator_id, s.geo, s.frequency, str(s.latest_period_end), str(s.stale_after), str(s.days_overdue)
        )
    console.print(table, markup=False, highlight=False)
    more = len(report.stale_series) - STALE_SHOWN
    if more > 0:
        console.print(
            f'… and {more} more: octracker sql "SELECT * FROM series_freshness WHERE stale_after < current_date"',
            markup=False,
            highlight=False,
        )


def alerts_line(report: StatusReport) -> str:
    if report.published_at is None:
        return ""
    if report.open_alerts is None:
        return "Open alerts: not computed in this warehouse (it has no trend_alerts view)"
    detail = ", ".join(f"{n} {severity}" for severity, n in (report.open_alerts_by_severity or {}).items())
    return f"Open alerts: {report.open_alerts}" + (f" ({detail})" if detail else "")


def sources_table(report: StatusReport) -> Table:
    table = Table(title="Sources", title_justify="left", header_style="bold")
    for column in ("source", "kind", "published", "precedence", "observations"):
        table.add_column(column, justify="right" if column in {"precedence", "observations"} else "left")
    for s in report.sources:
        table.add_row(
            s.source_id,
            s.kind,
            stated_date(s.published_on, s.published_precision),
            str(s.precedence),
            str(s.observations),
        )
    return table


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
    console.print(pipelines_table(report), highlight=False)
    print_problems(console, report)
    quarantine_section(console, report)
    stale_section(console, report)
    if alerts_line(report):
        console.print(alerts_line(report))
    if report.sources:
        console.print(sources_table(report), markup=False, highlight=False)


@click.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format."
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (for monitoring jobs).")
@click.pass_obj
def status_command(app, fmt: str, as_json: bool) -> None:
    """Show each pipeline's last run, result, rows and next scheduled run (UTC); quarantined rows with
    the newest reasons; stale series; open alerts; sources.

    A series is stale when its latest period ended longer ago than its indicator's frequency allows
    (annual: 1 year, biennial: 2 years; irregular: never). Exit status 1 when the last run of any
    pipeline failed, was interrupted or was missed by the scheduler, so a monitoring job can rely on it;
    0 otherwise.
    """
    report = collect_status(app.settings)
    if as_json or fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not app.quiet:
        print_status(app.out, report)
    sys.exit(report.exit_code)


COMMANDS = [status_command]

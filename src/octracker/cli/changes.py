"""`octracker changes`: what refreshes changed, one row per new, revised or retracted value (view `changes`)."""

from __future__ import annotations

import datetime as dt

import click

from octracker.alerts.silences import parse_duration
from octracker.cli.output import format_option, print_rows, showing_line
from octracker.errors import OctrackerError, UsageError
from octracker.store.query import relation_exists, run_query

COLUMNS = (
    "run_id, changed_at, change, indicator_id, geo, period_start, period_end, year, old_value, new_value, source_id"
)
ORDER = "ORDER BY changed_at, indicator_id, geo, period_start NULLS FIRST, source_id, change"
#: Without --since or --run: the changes of the last week.
DEFAULT_SINCE = dt.timedelta(days=7)
#: Rows an aligned table shows; CSV and JSON give them all.
TABLE_ROWS = 1000
#: What a person reads of each change (the run and moment are in the title; CSV and JSON have every column).
PEOPLE_COLUMNS = ("change", "indicator_id", "geo", "year", "old_value", "new_value", "source_id")


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO date or timestamp (UTC unless it names its zone), or a duration back from now (`7d`, `12h`)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            return now - parse_duration(text)
        except UsageError:
            raise UsageError(
                f"--since {text!r}: give a date or timestamp (2026-11-01, 2026-11-01T08:00, "
                "2026-11-01T08:00+01:00) or a duration back from now (7d, 12h)"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


@click.command("changes")
@click.option(
    "--since",
    "since",
    metavar="TIMESTAMP",
    default=None,
    help="Changes from this moment on (UTC date or timestamp, or a duration back: 7d, 12h) [default: 7d].",
)
@click.option("--run", "run_id", metavar="RUN_ID", default=None, help="The changes of one run (see `status`).")
@format_option
@click.pass_obj
def changes_command(app, since: str | None, run_id: str | None, fmt: str) -> None:
    """List what refreshes changed: every value a run added (new), revised (old -> new) or retracted.

    One row per change, oldest first, with the run, the moment and the source. Without --since or --run,
    the changes of the last seven days.
    """
    if since is not None and run_id is not None:
        raise UsageError("give --since or --run, not both")
    target = app.settings.read_target
    if not relation_exists(target, "changes"):
        raise OctrackerError(f"{target}: this warehouse has no changes view yet; run `octracker refresh` first")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    params: list[object]
    if run_id is not None:
        _, [(known,)] = run_query(target, "SELECT COUNT(*) FROM runs WHERE run_id = ?", [run_id])
        if not known:
            raise UsageError(
                f"--run {run_id!r}: no such run; `octracker changes --since 30d --format csv` shows the runs "
                "that changed values"
            )
        where, params, what = "run_id = ?", [run_id], f"run {run_id}"
    else:
        start = parse_since(since, now) if since is not None else now - DEFAULT_SINCE
        where, params, what = "changed_at >= ?", [start], f"since {start:%Y-%m-%d %H:%M:%S} UTC"
    columns, rows = run_query(target, f"SELECT {COLUMNS} FROM changes WHERE {where} {ORDER}", params)
    if fmt != "table":
        print_rows(app.out, columns, rows, fmt)
        return
    if not rows:
        if not app.quiet:
            app.out.print(f"No changes {what}.")
        return
    counts = {kind: sum(1 for r in rows if r[2] == kind) for kind in ("new", "revised", "retracted")}
    keep = [columns.index(c) for c in PEOPLE_COLUMNS]
    print_rows(
        app.out,
        list(PEOPLE_COLUMNS),
        [[row[i] for i in keep] for row in rows[:TABLE_ROWS]],
        fmt,
        title=f"Changes {what}: {counts['new']} new, {counts['revised']} revised, {counts['retracted']} retracted",
        readable=True,
    )
    more = showing_line(min(len(rows), TABLE_ROWS), len(rows), "changes", "add --format csv (or json)")
    if more:
        app.out.print(more, markup=False, highlight=False)


COMMANDS = [changes_command]

"""`octracker changes`: what refreshes changed, one row per new, revised or retracted value (view `changes`)."""

from __future__ import annotations

import datetime as dt

import click

from octracker.alerts.silences import parse_duration
from octracker.cli.output import format_option, print_rows, showing_line
from octracker.errors import OctrackerError, UsageError
from octracker.store.query import followed_places_condition, relation_exists, run_query

COLUMNS = (
    "run_id, changed_at, change, indicator_id, geo, period_start, period_end, year, old_value, new_value, source_id"
)
ORDER = "ORDER BY changed_at, indicator_id, geo, period_start NULLS FIRST, source_id, change"
#: Without --since or --run: the changes of the last week.
DEFAULT_SINCE = dt.timedelta(days=7)
#: Changes listed one per line by default: with more, the table says how many each source changed and lists this
#: many, those of the catalog's indicators in the places alerts follow first (`--all` lists every one; CSV and
#: JSON always do). A first refresh of a publisher's table is thousands of near-identical rows.
LISTED = 25
#: What a person reads of each change (the run and moment are in the title; CSV and JSON have every column).
PEOPLE_COLUMNS = ("change", "indicator_id", "geo", "year", "old_value", "new_value", "source_id")
#: Per source: how many values of each kind, in how many series (indicator and place), over which years.
BY_SOURCE_SQL = (
    "SELECT source_id AS source, COUNT(*) FILTER (WHERE change = 'new') AS new, "
    "COUNT(*) FILTER (WHERE change = 'revised') AS revised, COUNT(*) FILTER (WHERE change = 'retracted') AS retracted, "
    "COUNT(DISTINCT (indicator_id, geo)) AS series, "
    "CASE WHEN MIN(year) = MAX(year) THEN CAST(MIN(year) AS VARCHAR) ELSE MIN(year) || '-' || MAX(year) END AS years "
    "FROM changes WHERE {where} GROUP BY source_id ORDER BY MIN(changed_at), source_id"
)


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
@click.option("--all", "list_all", is_flag=True, help=f"List every change in the table (default: the first {LISTED}).")
@click.pass_obj
def changes_command(app, since: str | None, run_id: str | None, fmt: str, list_all: bool) -> None:
    """List what refreshes changed: every value a run added (new), revised (old -> new) or retracted.

    One row per change, oldest first, with the run, the moment and the source. Without --since or --run,
    the changes of the last seven days. When there are more than a screenful, the table gives the changes
    per source and lists the first ones (the catalog's indicators in the places alerts follow first) with
    how to see the rest: `--all`, or `--format csv` / `json`, which always list every change.
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
    if fmt != "table" or list_all:
        columns, rows = run_query(target, f"SELECT {COLUMNS} FROM changes WHERE {where} {ORDER}", params)
        if fmt != "table":
            print_rows(app.out, columns, rows, fmt)
            return
        if not rows:
            if not app.quiet:
                app.out.print(f"No changes {what}.")
            return
        if not app.quiet:
            print_changes(app.out, columns, rows, what, len(rows))
        return
    if app.quiet:
        return
    followed = followed_places_condition({"alert_places"} if relation_exists(target, "alert_places") else set())
    first = f"indicator_id IN (SELECT indicator_id FROM indicators) AND {followed}"
    # One query for both cases: with LISTED changes or fewer, every one in time order; with more, the followed ones
    # first (`n`, the count over all of them, tells which) and, below, the counts per source.
    columns, rows = run_query(
        target,
        f"SELECT {COLUMNS}, n FROM (SELECT *, COUNT(*) OVER () AS n FROM changes WHERE {where}) "
        f"ORDER BY (n > {LISTED} AND {first}) DESC, {ORDER.removeprefix('ORDER BY ')} LIMIT {LISTED}",
        params,
    )
    if not rows:
        app.out.print(f"No changes {what}.")
        return
    total = rows[0][-1]
    columns, rows = columns[:-1], [row[:-1] for row in rows]
    if total <= LISTED:
        print_changes(app.out, columns, rows, what, total)
        return
    by_source_columns, by_source = run_query(target, BY_SOURCE_SQL.format(where=where), params)
    print_changes(app.out, columns, rows, what, total, by_source=(by_source_columns, by_source))


def print_changes(
    console,
    columns: list[str],
    rows: list[tuple],
    what: str,
    total: int,
    by_source: tuple[list[str], list[tuple]] | None = None,
) -> None:
    """The title with the counts, the changes per source (when the list is cut), then the changes listed."""
    counts = {kind: sum(1 for r in rows if r[2] == kind) for kind in ("new", "revised", "retracted")}
    if by_source is not None:
        source_columns, sources = by_source
        counts = {kind: sum(r[source_columns.index(kind)] for r in sources) for kind in counts}
    console.print(
        f"Changes {what}: {counts['new']} new, {counts['revised']} revised, {counts['retracted']} retracted",
        markup=False,
        highlight=False,
    )
    if by_source is not None:
        print_rows(
            console,
            by_source[0],
            by_source[1],
            "table",
            "By source",
            readable=True,
            whole=("source",),
            optional=["series"],
        )
    keep = [columns.index(c) for c in PEOPLE_COLUMNS]
    title = None
    if by_source is not None:
        title = f"First {len(rows)} changes (the catalog's indicators in the places alerts follow first)"
    listed = [[row[i] for i in keep] for row in rows]
    # A list of new values only has no old ones to show.
    unused = ["old_value"] if all(row[columns.index("old_value")] is None for row in rows) else []
    print_rows(
        console, list(PEOPLE_COLUMNS), listed, "table", title, readable=True, whole=["indicator_id"], optional=unused
    )
    more = showing_line(len(rows), total, "changes", "add --all (or --format csv, or --format json)")
    if more:
        console.print(more, markup=False, highlight=False)


COMMANDS = [changes_command]

"""`octracker refresh`: run pipelines now and print what each one did."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from octracker.cli.output import show_table
from octracker.cli.progress import progress_bar
from octracker.load.inbox import list_inbox_files
from octracker.load.pipeline import PipelineResult, refresh, refresh_plan
from octracker.store.query import existing_relations, locked_reader, query_on

if TYPE_CHECKING:  # rich loads when a table is printed for a person (not under --quiet, nor for JSON)
    from rich.table import Table

SHORT_COLUMNS = ("pipeline", "status", "new", "rev", "same", "gone", "quar")


def summary_rows(results: list[PipelineResult]) -> list[list[str]]:
    """Per run: the pipeline (with the file, for the inbox), its status and its counts."""
    return [
        [
            # Why a feed was unreachable is the warning under the table, not a cell that widens the name column.
            r.pipeline if r.status == "unreachable" else r.label,
            r.status,
            str(r.counts.new),
            str(r.counts.revised),
            str(r.counts.unchanged),
            str(r.counts.retracted),
            str(r.quarantined),
        ]
        for r in results
    ]


def summary_table(results: list[PipelineResult]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Refresh", header_style="bold")
    for column in ("pipeline", "status", "new", "revised", "unchanged", "retracted", "quarantined"):
        table.add_column(column, justify="right" if column not in ("pipeline", "status") else "left")
    styles = {"success": "green", "unchanged": "dim", "unreachable": "yellow", "refused": "red", "failed": "red"}
    for name, status, *counts in summary_rows(results):
        table.add_row(name, Text(status, style=styles[status]), *counts)
    return table


def result_record(r: PipelineResult) -> dict:
    return {
        "pipeline": r.pipeline,
        "run_id": r.run_id,
        "status": r.status,
        "new": r.counts.new,
        "revised": r.counts.revised,
        "unchanged": r.counts.unchanged,
        "retracted": r.counts.retracted,
        "quarantined": r.quarantined,
        "error": r.error,
        "subject": r.subject,
        "candidates": r.candidates,
    }


@click.command("refresh")
@click.argument("pipelines", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the per-pipeline summary as JSON.")
@click.option("--strict", is_flag=True, help="Exit 1 when a live feed could not be reached (default: a warning).")
@click.pass_obj
def refresh_command(app, pipelines: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Run PIPELINES now (all when none named): extract, validate, load, views, publish.

    Files waiting in the inbox are ingested after the pipelines (`refresh inbox` ingests only them).
    Prints new / revised / unchanged / retracted / quarantined rows per pipeline. A refused document
    loads nothing and exits 2; a failed pipeline exits 1; the others still commit. A live feed that cannot be
    reached is reported `unreachable` with a warning, its last data kept (or its bundled snapshot loaded), and
    exits 0 unless --strict.
    """
    specs, with_inbox = refresh_plan(app.settings, pipelines)
    total = len(specs) + (len(list_inbox_files(app.settings.inbox_dir)) if with_inbox else 0)
    done: list[PipelineResult] = []
    with progress_bar(app, "Refresh", total, enabled=not as_json) as update:

        def advance(result: PipelineResult) -> None:
            done.append(result)
            update(len(done), max(total, len(done)), f"{result.pipeline}: {result.status}")

        results = refresh(app.settings, pipelines, trigger="manual", on_result=advance)
    print_results(app, results, as_json, strict=strict)


def changes_line(con, relations: set[str], run_ids: list[str]) -> str:
    """How many values these runs changed (as the `changes` view counts them) and, on a line of its own, the command
    that lists them: a terminal wraps a long line anywhere, and a command cut in two cannot be pasted. `con` reads the
    published copy, which holds `relations`."""
    if not run_ids or "changes" not in relations:
        return "Changed values: see the table above."
    marks = ", ".join("?" * len(run_ids))
    _, rows = query_on(
        con,
        f"SELECT change, COUNT(*), MIN(changed_at) FROM {counted_changes(con)} WHERE run_id IN ({marks}) "
        "GROUP BY change",
        run_ids,
    )
    counts = {change: n for change, n, _ in rows}
    first = min((at for _, _, at in rows), default=None)
    if len(run_ids) == 1:
        command = f"octracker changes --run {run_ids[0]}"
    else:
        command = f"octracker changes --since {first:%Y-%m-%dT%H:%M:%S}" if first else "octracker changes"
    return (
        f"Changed values: {counts.get('new', 0)} new, {counts.get('revised', 0)} revised, "
        f"{counts.get('retracted', 0)} retracted; to list them:\n  {command}"
    )


def counted_changes(con) -> str:
    """What the changes are counted from: `unsorted_changes()` (the `changes` view's rows without its sort, which
    DuckDB keeps under a COUNT: the 10M changes of a first load counted through the view took 547 MiB, 140 MiB so)
    where the view is made of it, else the view (a project's view files from before it)."""
    (made_of_it,) = con.execute(
        "SELECT COALESCE(bool_or(contains(sql, 'unsorted_changes()')), false) FROM duckdb_views() "
        "WHERE view_name = 'changes' AND database_name = current_database()"
    ).fetchone()
    return "unsorted_changes()" if made_of_it else "changes"


def published_summary(target, run_ids: list[str] | None) -> tuple[str | None, int | None]:
    """What the published copy says under the table: the line of what the runs `run_ids` changed (None when not
    asked) and how many trend alerts are open (None without the view). Read on one connection: each open of the copy
    loads its catalog of views, and four of them (a check for each view, then its query) took 0.1 s of CPU after a
    small change into a 10M-row warehouse."""
    with locked_reader(target) as con:
        relations = existing_relations(con)
        line = None if run_ids is None else changes_line(con, relations, run_ids)
        if "trend_alerts" not in relations:
            return line, None
        _, [(count,)] = query_on(con, "SELECT COUNT(*) FROM trend_alerts")
        return line, count


def print_results(app, results: list[PipelineResult], as_json: bool, *, strict: bool = False) -> None:
    """The per-run summary, errors on stderr, then exit with the status the results call for."""
    if as_json:
        click.echo(json.dumps([result_record(r) for r in results], indent=2))
    elif not app.quiet:
        # A narrow terminal: aligned lines with the names whole (what `refresh NAME` takes), counts headed short.
        rows = summary_rows(results)
        show_table(app.out, summary_table(results), SHORT_COLUMNS, rows, SHORT_COLUMNS[2:], whole=("pipeline",))
        written = sum(r.counts.new + r.counts.revised + r.counts.retracted for r in results)
        proposed = sum(r.candidates for r in results)
        if proposed:
            app.out.print(
                f"{proposed} candidate{'s' if proposed != 1 else ''} await{'' if proposed != 1 else 's'} review: "
                "`octracker review`",
                markup=False,
                highlight=False,
            )
        elif written == 0 and all(r.status in ("success", "unchanged") for r in results):
            app.out.print("Nothing new: the warehouse already holds every value these sources state.")
        run_ids = [r.run_id for r in results if r.run_id] if written and not proposed else None
        line, alerts = published_summary(app.settings.read_target, run_ids)
        if line is not None:
            app.out.print(line, markup=False, highlight=False)
        if alerts is not None:
            app.out.print(
                f"Open trend alerts: {alerts} (`octracker alerts` lists them; "
                "`octracker alerts send` delivers what is new)"
            )
    for r in results:
        if r.status == "unreachable":
            if not as_json:  # the JSON record says it (status and subject)
                app.err.print(f"Warning: {r.label}", style="yellow", markup=False, highlight=False)
        elif r.error:
            app.err.print(f"Error: {r.error}", style="red", markup=False, highlight=False)
    code = max((r.exit_code for r in results), default=0)
    if strict and any(r.status == "unreachable" for r in results):
        code = max(code, 1)
    # Bad input (2) outranks a failure (1): the operator must fix a file either way.
    sys.exit(2 if any(r.exit_code == 2 for r in results) else code)


COMMANDS = [refresh_command]

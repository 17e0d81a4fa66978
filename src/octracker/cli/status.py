"""`octracker status`: pipelines' last and next runs, quarantine, stale series and open alerts at a glance."""

from __future__ import annotations

import json
import sys

import click

from octracker.serve.status import collect_status


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
    0 otherwise. A run that refused its input (a bad file, kept in quarantine) shows as `refused` and
    alone does not make the exit status 1.
    """
    report = collect_status(app.settings)
    if as_json or fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not app.quiet:
        from octracker.cli.status_screen import print_status  # rich: only for the table a person reads

        print_status(app.out, report)
    sys.exit(report.exit_code)


COMMANDS = [status_command]

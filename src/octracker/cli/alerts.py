"""`octracker alerts` (list open trend alerts) and `octracker alerts send` (deliver them to webhooks)."""

from __future__ import annotations

import os
import sys

import click
import httpx

from octracker.alerts.deliveries import configured_webhooks, send_alerts
from octracker.alerts.webhooks import SECRET_ENV, webhook_secret_from_env, webhook_urls_from_env
from octracker.cli.output import print_rows
from octracker.errors import OctrackerError
from octracker.store.query import relation_exists, run_query

ORDER = "ORDER BY severity_rank DESC, rule, indicator_id, geo, year"
TABLE_SQL = (
    f"SELECT severity, rule, indicator_id, geo, year, value, prev_value, change, message FROM trend_alerts {ORDER}"
)
JSON_SQL = (
    "SELECT fingerprint, rule, check_name, severity, indicator_id, indicator_name, geo, year, period, value, unit, "
    f"prev_year, prev_value, change, pct_change, basis, annualized_value, source_ids, message FROM trend_alerts {ORDER}"
)


@click.group("alerts", invoke_without_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="Output format of the list.",
)
@click.pass_context
def alerts_command(ctx: click.Context, fmt: str) -> None:
    """List open trend alerts from the published warehouse, most severe first.

    `octracker alerts send` delivers new, changed and resolved alerts to the webhooks.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    path = app.settings.read_target
    if not relation_exists(path, "trend_alerts"):
        raise OctrackerError(f"{path}: this warehouse has no trend_alerts view yet; run `octracker refresh` first")
    columns, rows = run_query(path, JSON_SQL if fmt == "json" else TABLE_SQL)
    if fmt == "table" and not rows:
        if not app.quiet:
            app.out.print("No open trend alerts.")
        return
    print_rows(app.out, columns, rows, fmt, title="Open trend alerts")


@alerts_command.command("send")
@click.pass_obj
def send_command(app) -> None:
    """Deliver new, changed and resolved alerts to every webhook in OCTRACKER_WEBHOOK_URL (space-separated).

    Each event goes once to each webhook, signed with OCTRACKER_WEBHOOK_SECRET (Standard Webhooks). A
    delivery that fails for now stays pending for the next send (exit 1); a receiver's permanent refusal
    (a 4xx other than 408/425/429) is reported (exit 1) and not retried. Nothing new: nothing is sent.
    """
    webhooks = configured_webhooks(webhook_urls_from_env(os.environ))
    secret = webhook_secret_from_env(os.environ)
    if secret is None:
        app.err.print(
            f"Warning: {SECRET_ENV} is not set: alerts go out unsigned and receivers cannot verify them.",
            style="yellow",
            markup=False,
            highlight=False,
        )
    with httpx.Client() as client:
        report = send_alerts(app.settings, webhooks, secret, client=client)
    if not app.quiet:
        planned = report.planned
        if planned.total == 0 and report.delivered == 0 and not report.problems and not report.pending:
            app.out.print("Nothing to send: no new, changed or resolved alerts, and nothing pending.")
        else:
            app.out.print(
                f"Alert events: {planned.opened} opened, {planned.changed} changed, {planned.resolved} resolved."
            )
            app.out.print(
                f"Deliveries: {report.delivered} delivered, {report.rejected} rejected, {report.pending} pending."
            )
        if report.unconfigured:
            app.out.print(f"{report.unconfigured} deliveries wait for webhooks no longer in OCTRACKER_WEBHOOK_URL.")
    for problem in report.problems:
        app.err.print(f"Error: {problem}", style="red", markup=False, highlight=False)
    if report.pending and not report.problems:
        app.err.print(
            f"Error: {report.pending} deliveries are still pending (waiting for their next attempt time); "
            "run `octracker alerts send` again later",
            style="red",
            markup=False,
            highlight=False,
        )
    sys.exit(report.exit_code)


COMMANDS = [alerts_command]

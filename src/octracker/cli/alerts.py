"""`octracker alerts` (list open trend alerts), `alerts send` (deliver them to webhooks and Alertmanager), and
`alerts mute` / `unmute` (silence one for a while)."""

from __future__ import annotations

import os
import sys

import click

from octracker.cli.output import echo_rows
from octracker.errors import UsageError
from octracker.store.query import run_query

ORDER = "ORDER BY severity_rank DESC, rule, indicator_id, geo, year"
TABLE_SQL = (
    "SELECT severity, geo, indicator_id, rule, check_name, year, prev_year, value, prev_value, change, pct_change, "
    f"unit, message FROM trend_alerts {ORDER}"
)
JSON_SQL = (
    "SELECT fingerprint, rule, check_name, severity, indicator_id, indicator_name, geo, year, period, value, unit, "
    "prev_year, prev_value, change, pct_change, basis, annualized_value, source_ids, provisional, message "
    f"FROM trend_alerts {ORDER}"
)
#: `--all`: the open alerts and the muted ones, each muted one with its silence (until, by whom, why).
ALL_TABLE_SQL = (
    "SELECT fingerprint, severity, geo, indicator_id, rule, check_name, year, prev_year, value, prev_value, change, "
    "pct_change, unit, message, muted_until, muted_by, muted_reason "
    f"FROM (SELECT * FROM trend_alerts UNION ALL BY NAME SELECT * FROM muted_alerts) {ORDER}"
)
ALL_JSON_SQL = (
    "SELECT fingerprint, rule, check_name, severity, indicator_id, indicator_name, geo, year, period, value, unit, "
    "prev_year, prev_value, change, pct_change, basis, annualized_value, source_ids, provisional, message, "
    "muted_until, muted_by, muted_reason "
    f"FROM (SELECT * FROM trend_alerts UNION ALL BY NAME SELECT * FROM muted_alerts) {ORDER}"
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
@click.option("--all", "show_all", is_flag=True, help="Also list the muted alerts, each with its silence.")
@click.option("--long", "long_", is_flag=True, help="The full message of each alert (at most three lines each).")
@click.pass_context
def alerts_command(ctx: click.Context, fmt: str, show_all: bool, long_: bool) -> None:
    """List open trend alerts from the published warehouse, most severe first.

    One line per alert: severity, place, indicator and what moved; `--long` gives each alert's full
    message, and the next step once per rule. `--format json` gives every column.

    `octracker alerts send` delivers new, changed and resolved alerts to the webhooks and Alertmanager;
    `octracker alerts mute` silences one for a while.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    if show_all:
        sql = ALL_JSON_SQL if fmt == "json" else ALL_TABLE_SQL
    else:
        sql = JSON_SQL if fmt == "json" else TABLE_SQL
    needs = ["trend_alerts", "muted_alerts"] if show_all else ["trend_alerts"]
    columns, rows = run_query(app.settings.read_target, sql, needs=needs)
    if fmt == "json":
        echo_rows(columns, rows, fmt)
        return
    if app.quiet:
        return
    if not rows:
        app.out.print("No open trend alerts.")
        return
    print_alerts(app.out, [dict(zip(columns, row)) for row in rows], long=long_, show_all=show_all)


def print_alerts(console, alerts: list[dict], *, long: bool, show_all: bool = False) -> None:
    """The open alerts for a person: one line each, or the full message in at most three lines each.

    With `show_all`, each alert's id leads its line and a muted one has its silence on the line under it.
    """
    from octracker.cli.alert_lines import alert_lines, long_alert_lines

    if long:
        lines = long_alert_lines(alerts, console.width)
    else:
        lines = alert_lines(alerts, console.width, with_ids=show_all)
    muted = sum(a.get("muted_until") is not None for a in alerts)
    lines.insert(0, f"Open trend alerts: {len(alerts) - muted}" + (f"; muted: {muted}" if show_all else ""))
    if show_all and not long:
        lines += [
            "Mute one: octracker alerts mute ID --for 7d --reason TEXT",
            "Lift a silence: octracker alerts unmute ID",
            "Every column: octracker alerts --all --format json",
        ]
    elif not long:
        lines += [
            "Full messages: octracker alerts --long",
            "Ids to mute one, and the muted ones: octracker alerts --all",
            "Every column: octracker alerts --format json",
        ]
    for line in lines:
        console.print(line, markup=False, highlight=False, crop=True, soft_wrap=True)


@alerts_command.command("send")
@click.pass_obj
def send_command(app) -> None:
    """Deliver new, changed and resolved alerts to every webhook in OCTRACKER_WEBHOOK_URL (space-separated).

    Each event goes once to each webhook, signed with OCTRACKER_WEBHOOK_SECRET (Standard Webhooks). A
    delivery that fails for now stays pending for the next send (exit 1); a receiver's permanent refusal
    (a 4xx other than 408/425/429) is reported (exit 1) and not retried. Nothing new: nothing is sent.
    With OCTRACKER_ALERTMANAGER_URL, Alertmanager gets the open alerts too (posted again before they would
    expire there) and the resolved or muted ones ended; a failed post exits 1 and is made again next time.
    """
    # Delivery needs the outbox (polars) and httpx (on the first client): loaded here, so listing alerts starts fast.
    from octracker.alerts.alertmanager import URL_ENV as ALERTMANAGER_URL_ENV
    from octracker.alerts.alertmanager import alertmanager_url_from_env, report_url_from_env
    from octracker.alerts.deliveries import configured_webhooks, send_alerts
    from octracker.alerts.webhooks import SECRET_ENV, URL_ENV, webhook_secret_from_env, webhook_urls_from_env
    from octracker.httpclient import new_client

    urls = webhook_urls_from_env(os.environ)
    alertmanager_url = alertmanager_url_from_env(os.environ)
    if not urls and alertmanager_url is None:
        raise UsageError(
            f"no alert receiver configured: set {URL_ENV} to one or more webhook URLs (separated by spaces), "
            f"or {ALERTMANAGER_URL_ENV} to an Alertmanager (e.g. http://127.0.0.1:9093)"
        )
    webhooks = configured_webhooks(urls) if urls else []
    secret = webhook_secret_from_env(os.environ)
    if secret is None and webhooks:
        app.err.print(
            f"Warning: {SECRET_ENV} is not set: alerts go out unsigned and receivers cannot verify them.",
            style="yellow",
            markup=False,
            highlight=False,
        )
    with new_client() as client:
        report = send_alerts(
            app.settings,
            webhooks,
            secret,
            client=client,
            alertmanager_url=alertmanager_url,
            report_url=report_url_from_env(os.environ),
        )
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
        posted = report.alertmanager
        if posted is not None and posted.delivered:
            am = posted.planned
            app.out.print(
                f"Alertmanager: {am.firing} firing ({am.opened} new, {am.changed} changed, {am.refreshed} refreshed), "
                f"{am.ended} ended."
            )
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


@alerts_command.command("mute")
@click.argument("fingerprint")
@click.option(
    "--for",
    "duration",
    required=True,
    metavar="DURATION",
    help="How long: 30d, 12h, 90m, 2w or combined (1d12h); at most 366 days.",
)
@click.option("--reason", required=True, help="Why it is muted; kept with the silence and shown by `alerts --all`.")
@click.pass_obj
def mute_command(app, fingerprint: str, duration: str, reason: str) -> None:
    """Silence the alert FINGERPRINT (or its first 8+ hex digits) for a while.

    While muted it is neither listed as open nor delivered to webhooks or Alertmanager; it comes back, as it
    is then, when the silence ends. Fingerprints: `octracker alerts --all --format json`.
    """
    from octracker.alerts.silences import current_user, mute_alert, parse_duration
    from octracker.store.warehouse import utc_now

    length = parse_duration(duration)
    silence = _write_silence(
        app,
        lambda con: mute_alert(con, fingerprint, duration=length, reason=reason, who=current_user(), now=utc_now()),
    )
    app.say(
        f"Muted {silence.fingerprint} until {silence.ends_at:%Y-%m-%d %H:%M} UTC "
        f"({silence.created_by}: {silence.reason})."
    )


@alerts_command.command("unmute")
@click.argument("fingerprint")
@click.pass_obj
def unmute_command(app, fingerprint: str) -> None:
    """Lift the silence of the alert FINGERPRINT now: it is open (and delivered) again if it still holds."""
    from octracker.alerts.silences import current_user, unmute_alert
    from octracker.store.warehouse import utc_now

    full = _write_silence(app, lambda con: unmute_alert(con, fingerprint, who=current_user(), now=utc_now()))
    app.say(f"Unmuted {full}.")


def _write_silence(app, write):
    """Run one silence change on the writer (brought up to date first), then publish it for readers."""
    from octracker.store.warehouse import writer_session  # the writer's modules load only to write

    with writer_session(app.settings) as (con, _):
        return write(con)


COMMANDS = [alerts_command]

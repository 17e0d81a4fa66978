"""`octracker schedule`: the scheduler in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

import click

from octracker.schedule.metrics_server import LISTEN_ADDRESS, serve_metrics
from octracker.schedule.scheduler import DEFAULT_ALERTS_CRON, DEFAULT_INBOX_CRON, describe_jobs, run_scheduler

log = logging.getLogger("octracker.schedule.scheduler")


@click.command("schedule")
@click.option(
    "--inbox-cron",
    default=DEFAULT_INBOX_CRON,
    show_default=True,
    help="When to look in the inbox (crontab, UTC); an empty inbox opens nothing.",
)
@click.option(
    "--alerts-cron",
    default=DEFAULT_ALERTS_CRON,
    show_default=True,
    help="When to deliver alerts (crontab, UTC), when alert delivery is installed.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    metavar="PORT",
    help="Also serve Prometheus metrics at http://127.0.0.1:PORT/metrics (see `octracker metrics`).",
)
@click.pass_obj
def schedule_command(app, inbox_cron: str, alerts_cron: str, metrics_port: int | None) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT.

    One job per enabled pipeline with a `schedule` (crontab, UTC), one for the inbox and one for alert
    delivery; jobs run one at a time, each exactly as `octracker refresh PIPELINE`. A pipeline that has not
    succeeded since its previous scheduled time runs at once. pipelines/ is read again every minute: a spec
    added, rescheduled, disabled or deleted takes effect without a restart. SIGTERM/SIGINT let the running
    job finish, then exit 0. Only one scheduler may run per warehouse.
    """
    if not app.quiet and not app.debug:
        logging.getLogger("octracker").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, _frame) -> None:
        log.info("%s received: finishing the running job, then exiting", signal.Signals(signum).name)
        stop.set()

    def on_start(scheduler) -> None:
        if app.quiet:
            return
        app.err.print(f"Scheduler running on {app.settings.warehouse} (UTC); stop with Ctrl-C or SIGTERM.")
        for name, next_run in describe_jobs(scheduler):
            app.err.print(f"  next {next_run} UTC  {name}", markup=False, highlight=False)

    server = serve_metrics(app.settings, metrics_port) if metrics_port is not None else None
    if server is not None and not app.quiet:
        app.err.print(f"Metrics at http://{LISTEN_ADDRESS}:{metrics_port}/metrics", markup=False, highlight=False)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        run_scheduler(app.settings, stop, inbox_cron=inbox_cron, alerts_cron=alerts_cron, on_start=on_start)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.shutdown()
            server.server_close()


COMMANDS = [schedule_command]

"""`octracker metrics`: the Prometheus text exposition of runs, rows, quarantine, open alerts and data age."""

from __future__ import annotations

import click

from octracker.schedule.scheduler import scheduler_is_running
from octracker.serve.metrics import collect_metrics, render_metrics


@click.command("metrics")
@click.pass_obj
def metrics_command(app) -> None:
    """Print Prometheus text exposition of the published warehouse (see docs/operators.md for each metric).

    `octracker schedule --metrics-port PORT` serves the same at http://127.0.0.1:PORT/metrics; this command
    suits a node exporter's textfile collector or a one-off look.
    """
    snapshot = collect_metrics(app.settings, scheduler_up=scheduler_is_running(app.settings))
    click.echo(render_metrics(snapshot), nl=False)


COMMANDS = [metrics_command]

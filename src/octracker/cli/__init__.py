"""The `octracker` command: global options, one error handler, and the commands registered from modules."""

from __future__ import annotations

import logging
import sys

import click
from rich.console import Console

from octracker import __version__
from octracker.errors import OctrackerError
from octracker.store.settings import Settings, build_settings


class AppContext:
    """What every command gets: settings built once here, consoles, and the output switches."""

    def __init__(self, settings: Settings, *, debug: bool, quiet: bool) -> None:
        self.settings = settings
        self.debug = debug
        self.quiet = quiet
        # Piped output keeps whole rows instead of folding them to 80 columns.
        self.out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
        self.err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


class OctrackerGroup(click.Group):
    """Turns every OctrackerError into `Error: …` and its exit status; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OctrackerError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - reported, with the traceback under --debug
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)", err=True
            )
            sys.exit(1)


@click.group(cls=OctrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False),
    default=None,
    help="Warehouse: a DuckDB file, or a lake (ducklake:postgres: or ducklake:PATH.ducklake) "
    "[env OCTRACKER_WAREHOUSE; default warehouse/octracker.duckdb].",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False),
    default=None,
    help="Project folder holding pipelines/, schemas/ and warehouse/ [env OCTRACKER_PROJECT; default .].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (exit status still tells the result).")
@click.version_option(__version__, prog_name="octracker")
@click.pass_context
def main(ctx: click.Context, warehouse: str | None, project: str | None, debug: bool, quiet: bool) -> None:
    """Track organized-crime indicators from documents, tables and feeds in a DuckDB warehouse.

    Exit status: 0 success; 1 a pipeline or delivery failed (the others still committed);
    2 bad usage or bad input refused.
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = AppContext(build_settings(project, warehouse), debug=debug, quiet=quiet)


def _register() -> None:
    from octracker.cli import (
        alerts,
        changes,
        export,
        ingest,
        lake,
        metrics,
        query,
        refresh,
        report,
        review,
        schedule,
        status,
    )

    for module in (refresh, ingest, schedule, query, status, export, report, alerts, review, lake, changes, metrics):
        for command in module.COMMANDS:
            main.add_command(command)


_register()

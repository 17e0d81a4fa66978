"""The `octracker` command: global options, one error handler, and the commands registered from modules."""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

import click

from octracker import __version__
from octracker.errors import OctrackerError, UsageError
from octracker.store.settings import Settings, build_settings

if TYPE_CHECKING:  # rich loads when something is printed for a person, not for JSON
    from rich.console import Console


class AppContext:
    """What every command gets: settings built once here, consoles, and the output switches."""

    def __init__(self, settings: Settings, *, debug: bool, quiet: bool) -> None:
        self._settings = settings
        self.debug = debug
        self.quiet = quiet

    @functools.cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(width=console_width(sys.stdout))

    @functools.cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True, width=console_width(sys.stderr))

    def say(self, message: str) -> None:
        """A line for a person on stdout, printed as written (no markup, no highlighting); nothing with --quiet."""
        if not self.quiet:
            self.out.print(message, markup=False, highlight=False)

    @property
    def settings(self) -> Settings:
        """The settings, once a command needs them: outside a project (and with no warehouse) that is an error."""
        settings = self._settings
        if settings.lake is None and not settings.pipelines_dir.is_dir() and not settings.warehouse.exists():
            raise UsageError(
                f"{settings.project} is not an octracker project (it has no pipelines/ folder and no warehouse); "
                "run from the project folder, or point at it with --project DIR (or OCTRACKER_PROJECT=DIR)"
            )
        return settings


def console_width(stream) -> int | None:
    """The terminal's width (rich reads it, or COLUMNS when set); piped output keeps whole rows up to 200."""
    if stream.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return None
    return 200


#: Every command's name; `command_module` imports the module that defines it.
COMMAND_NAMES = (
    "alerts",
    "changes",
    "chart",
    "evidence",
    "export",
    "ingest",
    "metrics",
    "migrate-to",
    "refresh",
    "report",
    "review",
    "schedule",
    "sql",
    "status",
    "summary",
)


def command_module(name: str) -> ModuleType | None:
    """The module under octracker.cli that defines command NAME, imported now (None for no such command).

    A command's module (and what it imports: polars, httpx, openpyxl, …) is imported only when that command
    runs, so a read-only command starts fast. The imports are written out, not built from names, so that the
    linters and the layer test see them.
    """
    match name:
        case "alerts":
            from octracker.cli import alerts

            return alerts
        case "changes":
            from octracker.cli import changes

            return changes
        case "chart" | "report":
            from octracker.cli import report

            return report
        case "evidence":
            from octracker.cli import evidence

            return evidence
        case "export":
            from octracker.cli import export

            return export
        case "ingest":
            from octracker.cli import ingest

            return ingest
        case "metrics":
            from octracker.cli import metrics

            return metrics
        case "migrate-to":
            from octracker.cli import lake

            return lake
        case "refresh":
            from octracker.cli import refresh

            return refresh
        case "review":
            from octracker.cli import review

            return review
        case "schedule":
            from octracker.cli import schedule

            return schedule
        case "sql" | "summary":
            from octracker.cli import query

            return query
        case "status":
            from octracker.cli import status

            return status
    return None


class OctrackerGroup(click.Group):
    """Turns every OctrackerError into `Error: …` and its exit status; tracebacks only with --debug.

    Commands are registered from their modules when first asked for (see `command_module`).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_NAMES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            register_commands(cmd_name)
        return self.commands.get(cmd_name)

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


#: Objects made (less those freed) between two of the garbage collector's passes over the newest ones, in the
#: command's process (Python's default: 700).
GC_YOUNGEST_THRESHOLD = 100_000


def run() -> None:
    """The `octracker` command as its own process (the console script and `python -m octracker`): `main`, then the
    process ends without Python's last garbage collection, which walks every object the libraries made (0.1-0.2 s
    of a load's process). Everything the command opened is closed and flushed by then; the leftovers are freed
    with the process. `main` itself, called in a process that goes on (a test), leaves the collector alone.

    The collector also passes less often (GC_YOUNGEST_THRESHOLD): the modules a load imports (Polars, pyarrow,
    Pandera, DuckDB) make some 100,000 objects that live as long as the process, and at Python's default every
    700 of them it walked the newest again, 140-160 passes and 0.05-0.1 s of each `octracker ingest`. A process
    that runs for long (the scheduler) still collects its cycles, every GC_YOUNGEST_THRESHOLD objects."""
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
    try:
        main()
    finally:
        gc.freeze()


def register_commands(name: str) -> None:
    """Import the module of command NAME and add the commands it defines (nothing for no such command)."""
    module = command_module(name)
    for command in module.COMMANDS if module is not None else ():
        main.add_command(command)


def register_all_commands() -> None:
    """Every command at once (for the full help and for tools that walk the commands)."""
    for name in COMMAND_NAMES:
        register_commands(name)

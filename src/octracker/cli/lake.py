"""`octracker migrate-to`: move a warehouse file into a DuckLake (catalog in PostgreSQL or a local file)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from octracker.errors import UsageError
from octracker.store.lake import is_lake_target, parse_lake_target
from octracker.store.lake_copy import copy_to_lake


@click.command("migrate-to")
@click.argument("target")
@click.pass_obj
def migrate_to_command(app, target: str) -> None:
    """Copy the warehouse file into a new, empty lake at TARGET and verify every table.

    Every table is copied (observation history, sources, runs, quarantine, indicators, migrations and any
    other), in one transaction, with row counts and checksums compared before it commits; views and macros
    are then applied from the project. TARGET is `ducklake:postgres:` (catalog in PostgreSQL: PGHOST, PGPORT,
    PGUSER, PGPASSWORD, PGDATABASE or OCTRACKER_LAKE_CATALOG; data in OCTRACKER_LAKE_DATA, a directory or
    object-store prefix) or `ducklake:PATH.ducklake` (a local catalog file, data beside it).

    Example: OCTRACKER_LAKE_DATA=/srv/lake/data octracker migrate-to ducklake:postgres:
    """
    if not is_lake_target(target):
        raise UsageError(f"{target}: not a lake; write ducklake:postgres: or ducklake:PATH.ducklake")
    lake = parse_lake_target(target, os.environ, Path.cwd())
    copies = copy_to_lake(app.settings, lake)
    if app.quiet:
        return
    table = Table(title=f"Copied {app.settings.warehouse} into {lake.describe()}", header_style="bold")
    for column in ("table", "rows", "checksum", "lake rows", "lake checksum", "verified"):
        table.add_column(column, justify="left" if column in ("table", "verified") else "right")
    for c in copies:
        table.add_row(
            c.table,
            str(c.rows),
            f"{c.checksum:x}",
            str(c.lake_rows),
            f"{c.lake_checksum:x}",
            "[green]yes[/]" if c.verified else "[red]NO[/]",
        )
    app.out.print(table)
    app.say(
        f"From now on use --warehouse {target} (or OCTRACKER_WAREHOUSE) with the same OCTRACKER_LAKE_* "
        "settings. Analysts attach the lake read-only in DuckDB with:"
    )
    app.say(f"  {lake.analyst_attach()};")


COMMANDS = [migrate_to_command]

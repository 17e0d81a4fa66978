"""`octracker export`: the analyst views as Parquet or CSV files, from the published copy."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    required=True,
    help="File format: parquet (typed, compact) or csv (for spreadsheets).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the files into (created if missing; files of the same name are replaced).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written and skipped as JSON.")
@click.pass_obj
def export_command(app, fmt: str, out_dir: Path, as_json: bool) -> None:
    """Write the analyst tables and views to OUT/<name>.<format>, and OUT/datapackage.json describing them.

    series, observations, yoy_changes, edition_changes, trend_alerts, changes and index_ranks, with the
    indicators (names, units) and sources they cite; datapackage.json is a Frictionless Data Package
    (each file's fields and types, size and sha256, the units and the sources). Reads the published copy.
    Views this warehouse does not have yet are skipped and named. In CSV, text that a spreadsheet would run
    as a formula (starting with = + - @) is prefixed with ' and lists are written as JSON; every file is
    written whole or not at all.
    """
    from octracker.serve.export import export_relations  # pyarrow loads only when exporting

    result = export_relations(app.settings.read_target, out_dir, fmt)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if app.quiet:
        return
    table = Table(title=f"Exported to {out_dir}", title_justify="left", header_style="bold")
    table.add_column("relation")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for f in result.written:
        table.add_row(f.relation, str(f.rows), str(f.path))
    app.out.print(table, markup=False, highlight=False)
    app.say(f"Described in {result.package}")
    if result.skipped:
        app.say(f"Skipped (not in this warehouse): {', '.join(result.skipped)}")


COMMANDS = [export_command]

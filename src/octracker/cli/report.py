"""`octracker report` and `octracker chart`: the published warehouse as an offline HTML report and charts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from octracker.cli.progress import progress_bar
from octracker.errors import UsageError
from octracker.store.query import locked_reader
from octracker.store.warehouse import project_catalog

# altair and vl-convert take a second or more to import: loaded by these two commands only, so every
# other command (and --help) starts fast.
CHART_SUFFIXES = (".svg", ".png")


@click.command("report")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for index.html [default: report/ beside the warehouse file, i.e. warehouse/report/].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the written file and counts as JSON.")
@click.pass_obj
def report_command(app, out_dir: Path | None, as_json: bool) -> None:
    """Write a static HTML report of the published warehouse to OUT/index.html.

    Open alerts and sources that disagree first, then per indicator a chart of each place's series
    (approximate, bounded and partial values hollow; sources of one period side by side) and the
    latest value with its evidence sentence and source. One self-contained file: no script, nothing
    fetched from the network, so it opens offline.
    """
    from octracker.serve.report import write_report

    out_dir = out_dir or app.settings.data_dir / "report"
    with progress_bar(app, "Charts", enabled=not as_json) as update:
        path, data = write_report(app.settings, out_dir, on_progress=update)
    summary = {
        "path": str(path),
        "indicators": len(data.sections),
        "charts": sum(1 for s in data.sections if s.chart_svg),
        "conflicts": len(data.conflicts),
        "open_alerts": None if data.alerts is None else len(data.alerts),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        app.say(
            f"Wrote {path} ({summary['charts']} charts, {summary['indicators']} indicators, "
            f"{summary['conflicts']} conflicts)"
        )


def resolve_indicator(app, name: str):
    """The catalog indicator for an id or any of its names; a usage error naming close matches otherwise."""
    catalog = project_catalog(app.settings)
    found = catalog[name] if name in catalog else catalog.by_name(name)
    if found is None:
        raise UsageError(catalog.unknown(name))
    return found


@click.command("chart")
@click.argument("indicator")
@click.option("--geo", "geos", multiple=True, help="Place code to draw (repeat for several) [default: all].")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: .svg or .png.",
)
@click.pass_obj
def chart_command(app, indicator: str, geos: tuple[str, ...], out_file: Path) -> None:
    """Draw INDICATOR (id or name) per place from the published warehouse into an SVG or PNG file.

    Example: octracker chart oci.cocaine_trade --geo BE --geo NL --out cocaine.svg
    """
    if out_file.suffix.lower() not in CHART_SUFFIXES:
        raise UsageError(f"{out_file}: --out must end in .svg or .png")
    from octracker.content.geographies import load_place_names
    from octracker.serve.charts import build_chart, read_points, write_chart

    ind = resolve_indicator(app, indicator)
    with locked_reader(app.settings.read_target) as con:
        points = read_points(con, ind.id, geos)
        if not points:
            stated = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT geo FROM observations WHERE indicator_id = ? "
                    "AND period_start IS NOT NULL ORDER BY geo",
                    [ind.id],
                ).fetchall()
            ]
            where = f" for {', '.join(geos)}" if geos else ""
            have = f"; places with values: {', '.join(stated)}" if stated else ""
            raise UsageError(f"no values of {ind.id}{where} with a stated period in the published warehouse{have}")
    spec = build_chart(ind, points, places=load_place_names(app.settings.schemas_dir))
    write_chart(spec, out_file)
    app.say(f"Wrote {out_file}")


COMMANDS = [report_command, chart_command]

"""`octracker evidence`: the source line or sentence behind a value, read from the raw store."""

from __future__ import annotations

import click


@click.command("evidence")
@click.option("--indicator", help="Indicator id, as in the catalog.")
@click.option("--geo", help="Place code (ISO 3166-1 alpha-2, ISO 3166-2, UN/LOCODE or EU).")
@click.option("--period", help="YYYY (every period within that year) or YYYY-MM-DD/YYYY-MM-DD.")
@click.option("--source", help="Source id.")
@click.option(
    "--row",
    type=click.IntRange(min=0),
    help="Row (for a CSV, line; for a JSON-stat body, the cell's index from 0) of the source's table; needs --source.",
)
@click.pass_obj
def evidence_command(app, indicator, geo, period, source, row) -> None:
    """Print the line or sentence each current value was read from.

    A value read from a row of a large table cites the row by reference (the file, its sha256 and the row
    number, or a JSON-stat cell's index); the row or cell is then read from the exact bytes kept in the raw store.
    Reads the published copy.

    Example: octracker evidence --indicator homicide_rate_per_100k --geo BE --period 2023
    """
    from octracker.serve.evidence import MAX_VALUES, find_evidence
    from octracker.store.query import locked_reader

    with locked_reader(app.settings.read_target) as con:
        found, total = find_evidence(
            con, app.settings.raw_dir, indicator=indicator, geo=geo, period=period, source=source, row=row
        )
        if not found and indicator:
            refuse_unknown_indicator(app, con, indicator)
    if not found:
        click.echo("No current value matches.", err=True)
        raise SystemExit(1)
    for e in found:
        click.echo(f"{e.indicator_id}  {e.geo}  {e.period}  {e.value:g}  (source {e.source_id})")
        if e.line != e.evidence:
            click.echo(f"  cited: {e.evidence}")
        click.echo(f"  {e.line}")
    if total > len(found):
        click.echo(
            f"{total - len(found):,} more values match (the first {MAX_VALUES} are shown); narrow the question.",
            err=True,
        )


def refuse_unknown_indicator(app, con, indicator: str) -> None:
    """An id neither in the catalog nor among the values (a publisher's native id): the ids it probably means."""
    from octracker.errors import UsageError
    from octracker.store.warehouse import project_catalog

    catalog = project_catalog(app.settings)
    if indicator in catalog:
        return
    if con.execute("SELECT 1 FROM observations WHERE indicator_id = ? LIMIT 1", [indicator]).fetchone() is None:
        raise UsageError(catalog.unknown(indicator))


COMMANDS = [evidence_command]

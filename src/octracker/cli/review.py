"""`octracker review`: list candidate figures from new articles, and accept or reject them one by one."""

from __future__ import annotations

import click

from octracker.cli.output import FORMATS, print_rows
from octracker.load.review import STATUSES, Decision, accept_candidate, list_candidates, reject_candidate


@click.group("review", invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice([*STATUSES, "all"]),
    default="pending",
    show_default=True,
    help="Which candidates to list.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.pass_context
def review_group(ctx: click.Context, status: str, fmt: str) -> None:
    """List candidate figures proposed from new articles (pending ones unless --status says otherwise).

    Nothing proposed is loaded until a person accepts it: `octracker review accept ID` loads it as an
    observation (method curated, evidence = its sentence); `octracker review reject ID` sets it aside, or
    takes it out again if it was accepted.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    columns, rows = list_candidates(app.settings, status)
    if fmt == "table" and not rows:
        app.out.print(
            f"No {'' if status == 'all' else status + ' '}candidates. New articles are proposed for "
            "review when they are ingested (`octracker ingest ARTICLE`)."
        )
        return
    if fmt == "table":
        # A person reads the number as written and the sentence; programs get every column.
        hidden = {"number"} | ({"status"} if status != "all" else set())
        keep = [i for i, c in enumerate(columns) if c not in hidden]
        columns, rows = [columns[i] for i in keep], [tuple(row[i] for i in keep) for row in rows]
    print_rows(app.out, columns, rows, fmt, title=f"Candidates ({status})")


@review_group.command("accept")
@click.argument("candidate_id")
@click.option("--indicator", help="The indicator the number is a value of, when the proposal has none or is wrong.")
@click.option("--geo", help="Its geography (ISO 3166 code, UN/LOCODE, ...), when the proposal has none or is wrong.")
@click.option("--year", type=click.IntRange(1900, 2100), help="The year it is for, when the proposal is wrong.")
@click.option("--reason", help="Why, kept in the observation's note.")
@click.pass_obj
def accept_command(
    app, candidate_id: str, indicator: str | None, geo: str | None, year: int | None, reason: str | None
) -> None:
    """Load candidate CANDIDATE_ID as an observation (method curated), after validating it."""
    row = accept_candidate(app.settings, candidate_id, Decision(indicator, geo, year, reason))
    if not app.quiet:
        partial = f", partial as of {row['as_of'] or 'an unknown date'}" if row["is_partial"] else ""
        app.out.print(
            f"Accepted {candidate_id}: {row['indicator_id']} at {row['geo']} for {row['year']} = "
            f"{row['value']:g} {row['unit']} ({row['qualifier']}{partial}), from {row['source_id']}.",
            markup=False,
            highlight=False,
        )


@review_group.command("reject")
@click.argument("candidate_id")
@click.option("--reason", help="Why the number is not a figure to keep.")
@click.pass_obj
def reject_command(app, candidate_id: str, reason: str | None) -> None:
    """Mark candidate CANDIDATE_ID rejected; if it was accepted, its observation is retracted."""
    retracted = reject_candidate(app.settings, candidate_id, reason)
    if not app.quiet:
        taken_out = "; its observation is retracted (kept in observation_history)" if retracted else ""
        app.out.print(f"Rejected {candidate_id}{taken_out}.", markup=False, highlight=False)


COMMANDS = [review_group]

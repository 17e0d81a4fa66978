"""`octracker review`: list candidate figures from new articles, and accept or reject them one by one."""

from __future__ import annotations

import click

from octracker.cli.alert_lines import cut
from octracker.cli.output import echo_rows, format_option
from octracker.load.review import STATUSES, Decision, accept_candidate, list_candidates, reject_candidate


@click.group("review", invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice([*STATUSES, "all"]),
    default="pending",
    show_default=True,
    help="Which candidates to list.",
)
@format_option
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
    if fmt != "table":
        echo_rows(columns, rows, fmt)
        return
    if app.quiet:
        return
    # A person reads the number as written and its sentence, two lines each; programs get every column.
    candidates = [dict(zip(columns, row)) for row in rows]
    app.say(f"Candidates ({status}): {len(candidates)}")
    for line in candidate_lines(candidates, app.out.width, with_status=status == "all"):
        app.out.print(line, markup=False, highlight=False, crop=True, soft_wrap=True)
    for hint in (
        "Accept: octracker review accept ID [--indicator ID] [--geo GEO] [--year YEAR]",
        "Reject: octracker review reject ID",
    ):
        app.say(hint)


def candidate_lines(candidates: list[dict], width: int, *, with_status: bool) -> list[str]:
    """Per article a heading, then per candidate two lines within `width`: what was read, then its sentence."""
    lines: list[str] = []
    source = None
    for c in candidates:
        if c["source_id"] != source:
            source = c["source_id"]
            lines.append(cut(f"{source}:", width))
        partial = f", so far to {c['as_of'] or '?'}" if c["is_partial"] else ""
        reading = " ".join(
            str(part)
            for part in (
                c["candidate_id"],
                c["status"] if with_status else None,
                c["indicator_id"] or "(indicator?)",
                c["geo"] or "(geo?)",
                c["year"] or "(year?)",
                "=",
                c["raw"],
                c["unit"] or "",
            )
            if part not in (None, "")
        )
        lines.append(cut(f"  {reading} (line {c['line_no']}, {c['qualifier']}{partial})", width))
        lines.append(cut(f"    “{c['sentence']}”", width))
    return lines


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
    partial = f", partial as of {row['as_of'] or 'an unknown date'}" if row["is_partial"] else ""
    app.say(
        f"Accepted {candidate_id}: {row['indicator_id']} at {row['geo']} for {row['year']} = "
        f"{row['value']:g} {row['unit']} ({row['qualifier']}{partial}), from {row['source_id']}."
    )


@review_group.command("reject")
@click.argument("candidate_id")
@click.option("--reason", help="Why the number is not a figure to keep.")
@click.pass_obj
def reject_command(app, candidate_id: str, reason: str | None) -> None:
    """Mark candidate CANDIDATE_ID rejected; if it was accepted, its observation is retracted."""
    retracted = reject_candidate(app.settings, candidate_id, reason)
    taken_out = "; its observation is retracted (kept in observation_history)" if retracted else ""
    app.say(f"Rejected {candidate_id}{taken_out}.")


COMMANDS = [review_group]

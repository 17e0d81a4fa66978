"""The review queue: figures proposed from new articles wait as candidates until a person accepts or rejects them.

An article that no pipeline declares is never loaded on a guess. `record_candidates` (called by the inbox
for kind `article`) registers it as a source and stores each number the candidate reader proposes, with
its reading and a confidence. `accept_candidate` turns one into an observation (`method = curated`,
evidence = its sentence), validated like any other row; `reject_candidate` marks it rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from octracker.content.catalog import Catalog
from octracker.content.documents import Document, text_fault
from octracker.content.specs import REVIEW_PIPELINE
from octracker.errors import InputRefused, UsageError
from octracker.extract.articles import propose_candidates
from octracker.extract.validation import validate_observations
from octracker.extracts import OBSERVATION_SCHEMA
from octracker.store.history import LoadCounts, close_current, upsert_observations
from octracker.store.query import relation_exists, run_query
from octracker.store.runs import finish_run, start_run, upsert_source
from octracker.store.settings import Settings
from octracker.store.warehouse import project_catalog, utc_now, writer_session
from octracker.store.writers import write_transaction

#: The pipeline name runs, sources and observation versions written by review carry.
#: Precedence of an article registered here: the press, as the bundled article specs (`pipelines/article_*`).
ARTICLE_PRECEDENCE = 30
STATUSES = ("pending", "accepted", "rejected")
CANDIDATE_COLUMNS = (
    "candidate_id",
    "source_id",
    "number",
    "raw",
    "unit",
    "year",
    "as_of",
    "is_partial",
    "indicator_id",
    "geo",
    "qualifier",
    "sentence",
    "line_no",
    "confidence",
    "status",
    "proposed_at",
    "run_id",
    "decided_at",
    "reason",
)
#: What `octracker review` shows, in reading order of each article.
LISTED_COLUMNS = (
    "candidate_id",
    "source_id",
    "line_no",
    "confidence",
    "indicator_id",
    "geo",
    "year",
    "raw",
    "number",
    "unit",
    "qualifier",
    "is_partial",
    "as_of",
    "status",
    "sentence",
)


def record_candidates(con: duckdb.DuckDBPyConnection, document: Document, settings: Settings, run_id: str) -> int:
    """Register an article as a source and store its proposed figures as pending candidates.

    The caller owns the transaction (the inbox writes its own bookkeeping in the same one). A candidate
    already stored for this source (the same article ingested again) is left as it is, decided or not.
    Returns how many candidates are new.
    """
    # Load inputs.
    catalog = project_catalog(settings)
    fault = text_fault(document.content)
    if fault is not None:
        raise InputRefused(f"{document.path.name}: {fault[1]}")
    text = document.text
    source_id = document.meta.source_id or f"article-{document.sha256[:12]}"
    meta = document.meta
    # Process data.
    found = propose_candidates(text, catalog=catalog, published=meta.published_on)
    now = utc_now()
    rows = []
    for candidate in found:
        as_of = candidate.as_of
        if as_of is not None and as_of == meta.published_on and meta.published_precision != "day":
            # "so far this year" counts to the publication day; a date stated only to its month or year
            # does not give that day, and an as-of date is never invented.
            as_of = None
        rows.append(
            [
                candidate_key(source_id, candidate.candidate_id),
                source_id,
                candidate.number,
                candidate.raw,
                candidate.unit,
                candidate.year,
                as_of,
                candidate.is_partial,
                candidate.indicator_id,
                candidate.geo,
                candidate.qualifier,
                candidate.sentence,
                candidate.line_no,
                candidate.confidence,
                "pending",
                now,
                run_id,
                None,
                None,
            ]
        )
    # Save outputs.
    register_article(con, document, source_id)
    known = {
        row[0] for row in con.execute("SELECT candidate_id FROM candidates WHERE source_id = ?", [source_id]).fetchall()
    }
    new = [row for row in rows if row[0] not in known]
    if new:
        placeholders = ", ".join("?" for _ in CANDIDATE_COLUMNS)
        con.executemany(f"INSERT INTO candidates ({', '.join(CANDIDATE_COLUMNS)}) VALUES ({placeholders})", new)
    return len(new)


def candidate_key(source_id: str, reading_id: str) -> str:
    """A short id unique across sources: the same sentence in two articles gives two candidates."""
    return hashlib.sha1(f"{source_id}|{reading_id}".encode()).hexdigest()[:12]


def register_article(con: duckdb.DuckDBPyConnection, document: Document, source_id: str) -> None:
    """Record the article in `sources`, keeping the pipeline and precedence whoever registered it first gave."""
    current = con.execute("SELECT pipeline, precedence FROM sources WHERE source_id = ?", [source_id]).fetchone()
    pipeline, precedence = current if current is not None else (REVIEW_PIPELINE, ARTICLE_PRECEDENCE)
    upsert_source(con, document, source_id=source_id, kind="article", pipeline=pipeline, precedence=precedence)


def list_candidates(settings: Settings, status: str = "pending") -> tuple[list[str], list[tuple]]:
    """Candidates in the published warehouse with this status (or all), each article in reading order."""
    if status not in (*STATUSES, "all"):
        raise UsageError(f"status must be one of {', '.join(STATUSES)} or all, not {status!r}")
    path = settings.read_target
    if not relation_exists(path, "candidates"):
        return list(LISTED_COLUMNS), []
    where = "" if status == "all" else "WHERE status = ?"
    return run_query(
        path,
        f"SELECT {', '.join(LISTED_COLUMNS)} FROM candidates {where} ORDER BY source_id, line_no, candidate_id",
        [] if status == "all" else [status],
    )


@dataclass(frozen=True)
class Decision:
    """A person's reading of a candidate: overrides of what the reader proposed, and why."""

    indicator: str | None = None
    geo: str | None = None
    year: int | None = None
    reason: str | None = None


def accept_candidate(settings: Settings, candidate_id: str, decision: Decision = Decision()) -> dict[str, Any]:
    """Load one candidate as an observation (method curated), validated first; returns the row loaded.

    A rejected candidate may be accepted after all; an accepted one cannot be accepted twice.
    """
    with writer_session(settings) as (con, catalog):
        candidate = stored_candidate(con, candidate_id, "accepted")
        frame = observation_from_candidate(candidate, decision, catalog)
        problems = validate_observations(frame, catalog, settings.schemas_dir)
        if problems:
            raise InputRefused(
                f"candidate {candidate_id} cannot be accepted: "
                + "; ".join(p.message for p in problems)
                + "; nothing was loaded"
            )
        refuse_overwrite(con, frame.row(0, named=True), candidate_id)

        def load(now: dt.datetime, run_id: str) -> LoadCounts:
            return upsert_observations(
                con,
                frame,
                pipeline=REVIEW_PIPELINE,
                run_id=run_id,
                source_ids=[candidate["source_id"]],
                full_snapshot=False,
                now=now,
            )

        record_decision(con, candidate_id, "accepted", decision.reason, load)
    return frame.row(0, named=True)


def reject_candidate(settings: Settings, candidate_id: str, reason: str | None = None) -> int:
    """Mark one candidate rejected, with the reason when given; returns how many observations it retracted.

    Rejecting a candidate accepted before takes its observation out of `observations` (the version is
    closed, never deleted); rejecting a pending one loads nothing.
    """
    with writer_session(settings) as (con, catalog):
        candidate = stored_candidate(con, candidate_id, "rejected")

        def retract(now: dt.datetime, run_id: str) -> LoadCounts:
            if candidate["status"] != "accepted":
                return LoadCounts()
            # The accepted version is the current one this candidate's note names.
            accepted = "h.source_id = ? AND h.method = 'curated' AND starts_with(h.note, ?)"
            closed = close_current(con, accepted, [candidate["source_id"], accepted_note(candidate_id)], now)
            return LoadCounts(retracted=closed)

        counts = record_decision(con, candidate_id, "rejected", reason, retract)
    return counts.retracted


def record_decision(
    con: duckdb.DuckDBPyConnection,
    candidate_id: str,
    status: str,
    reason: str | None,
    change: Callable[[dt.datetime, str], LoadCounts],
) -> LoadCounts:
    """Change the observations and record the decision in one transaction, within a run of `review`."""
    run_id = start_run(con, REVIEW_PIPELINE, "manual")
    now = utc_now()

    def write() -> LoadCounts:
        counts = change(now, run_id)
        con.execute(
            "UPDATE candidates SET status = ?, decided_at = ?, reason = ? WHERE candidate_id = ?",
            [status, now, reason, candidate_id],
        )
        finish_run(con, run_id, status="success", counts=counts)
        return counts

    try:
        counts = write_transaction(con, write, what=f"review of candidate {candidate_id}")
    except BaseException:
        error = f"recording candidate {candidate_id} as {status} failed; nothing of it was committed"
        write_transaction(
            con,
            lambda: finish_run(con, run_id, status="failed", error=error),
            what=f"review of candidate {candidate_id}: end of run",
        )
        raise
    return counts


def stored_candidate(con: duckdb.DuckDBPyConnection, candidate_id: str, decision: str) -> dict[str, Any]:
    """The candidate as stored; a usage error when it does not exist or already has this decision."""
    cursor = con.execute(
        f"SELECT {', '.join(CANDIDATE_COLUMNS)} FROM candidates WHERE candidate_id = ?", [candidate_id]
    )
    row = cursor.fetchone()
    if row is None:
        raise UsageError(f"no candidate {candidate_id!r}; `octracker review --status all` lists them all")
    candidate = dict(zip(CANDIDATE_COLUMNS, row))
    if candidate["status"] == decision:
        when = f"{candidate['decided_at']:%Y-%m-%d %H:%M} UTC"
        raise UsageError(f"candidate {candidate_id} was already {decision} on {when}; nothing to do")
    return candidate


def accepted_note(candidate_id: str, reason: str | None = None) -> str:
    """The note of an accepted candidate's observation; it links the observation back to the candidate."""
    return f"Accepted in review from candidate {candidate_id}" + (f": {reason}" if reason else "")


def observation_from_candidate(candidate: dict[str, Any], decision: Decision, catalog: Catalog) -> pl.DataFrame:
    """The canonical row a candidate becomes under a person's decision; a usage error says what is missing."""
    cid = candidate["candidate_id"]
    indicator_id = decision.indicator or candidate["indicator_id"]
    geo = decision.geo or candidate["geo"]
    year = decision.year if decision.year is not None else candidate["year"]
    missing = [
        f"--{flag}" for flag, value in (("indicator", indicator_id), ("geo", geo), ("year", year)) if value is None
    ]
    if missing:
        raise UsageError(
            f"candidate {cid} has no {', '.join(m[2:] for m in missing)} of its own; pass "
            f"{' '.join(missing)} to say what the number is"
        )
    if indicator_id not in catalog:
        raise UsageError(catalog.unknown(indicator_id))
    unit = catalog[indicator_id].unit
    if candidate["unit"] is not None and candidate["unit"] != unit:
        raise UsageError(
            f"candidate {cid} is a number in {candidate['unit']!r}, but {indicator_id} is measured in "
            f"{unit!r}; choose an indicator measured in {candidate['unit']!r} or reject it"
        )
    as_of = candidate["as_of"]
    if as_of is not None and as_of.year != year:
        raise UsageError(
            f"candidate {cid} counts part of {as_of.year} (as of {as_of}), not of {year}; "
            "accept it without --year or reject it"
        )
    note = accepted_note(cid, decision.reason)
    row = {
        "indicator_id": indicator_id,
        "geo": geo,
        "period_start": dt.date(year, 1, 1),
        "period_end": as_of if as_of is not None else dt.date(year, 12, 31),
        "year": year,
        "value": candidate["number"],
        "unit": unit,
        "qualifier": candidate["qualifier"],
        "is_partial": candidate["is_partial"],
        "as_of": as_of,
        "source_id": candidate["source_id"],
        "method": "curated",
        "evidence": candidate["sentence"],
        "note": note,
    }
    return pl.DataFrame([row], schema=OBSERVATION_SCHEMA)


def refuse_overwrite(con: duckdb.DuckDBPyConnection, row: dict[str, Any], candidate_id: str) -> None:
    """Accepting must not silently replace a value the source already has for the same figure and period."""
    current = con.execute(
        "SELECT value, evidence FROM observations WHERE indicator_id = ? AND geo = ? AND source_id = ? "
        "AND period_start IS NOT DISTINCT FROM ? AND period_end IS NOT DISTINCT FROM ?",
        [row["indicator_id"], row["geo"], row["source_id"], row["period_start"], row["period_end"]],
    ).fetchone()
    if current is not None:
        raise UsageError(
            f"candidate {candidate_id}: {row['source_id']} already has {row['indicator_id']} at "
            f'{row["geo"]} for {row["year"]} ({current[0]:g}, from "{current[1]}"); reject this '
            "candidate, or accept it with another --indicator, --geo or --year"
        )

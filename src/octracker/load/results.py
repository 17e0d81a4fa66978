"""How a run ended, recorded and reported: a result, a refusal into quarantine, a failure. What every route writes
at its end, without the readers, checks and history writes that a load needs (see `octracker.load.loading`)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from octracker.content.documents import Document
from octracker.content.specs import PipelineSpec
from octracker.errors import OctrackerError
from octracker.problems import Problem
from octracker.store.counts import LoadCounts
from octracker.store.runs import finish_run, quarantine_problems
from octracker.store.writers import write_transaction

log = logging.getLogger("octracker.load.pipeline")

#: Problems named in a failure message; the rest are in the quarantine table.
PROBLEMS_IN_MESSAGE = 5


@dataclass
class PipelineResult:
    """What one pipeline run did, as the summary and the exit status report it."""

    pipeline: str
    run_id: str
    #: success / unchanged (nothing new to read: feed not modified, file seen before) / unreachable (a feed gave
    #: no answer: last data kept, or its bundled snapshot loaded) / refused / failed
    status: str
    counts: LoadCounts = field(default_factory=LoadCounts)
    quarantined: int = 0
    error: str | None = None
    #: The file a run was about, for pipelines that handle many (the inbox).
    subject: str | None = None
    #: Figures an article proposed for review (`octracker review`), new in this run.
    candidates: int = 0

    @property
    def exit_code(self) -> int:
        # A feed that could not be reached kept its last data: not a failure (`refresh --strict` makes it one).
        return {"success": 0, "unchanged": 0, "unreachable": 0, "refused": 2}.get(self.status, 1)

    @property
    def label(self) -> str:
        return f"{self.pipeline}: {self.subject}" if self.subject else self.pipeline


def describe_problems(file_name: str, problems: list[Problem]) -> str:
    shown = "; ".join(p.describe(file_name) for p in problems[:PROBLEMS_IN_MESSAGE])
    more = len(problems) - PROBLEMS_IN_MESSAGE
    return shown + (f"; and {more} more (see `octracker status` or the quarantine table)" if more > 0 else "")


def refuse_document(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    run_id: str,
    document: Document | None,
    problems: list[Problem],
    *,
    also: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
) -> PipelineResult:
    """Quarantine every problem and load nothing from the document.

    `also` writes the caller's bookkeeping with the refusal message, in the same transaction.
    """
    file_name = document.path.name if document else (spec.document.name if spec.document else None)
    message = describe_problems(file_name or spec.name, problems) + "; nothing from it was loaded"

    def write() -> None:
        quarantine_problems(
            con, problems, run_id=run_id, pipeline=spec.name, source_id=spec.source.source_id, file_name=file_name
        )
        finish_run(con, run_id, status="failed", quarantined=len(problems), error=message)
        if also is not None:
            also(con, message)

    write_transaction(con, write, what=f"pipeline {spec.name}")
    return PipelineResult(spec.name, run_id, "refused", quarantined=len(problems), error=message)


def record_failure(con: duckdb.DuckDBPyConnection, spec: PipelineSpec, run_id: str, exc: Exception) -> PipelineResult:
    """A run that broke for a reason other than its input: recorded as failed, never raised further."""
    log.debug("pipeline %s failed:\n%s", spec.name, traceback.format_exc())
    detail = str(exc) if isinstance(exc, (OctrackerError, duckdb.Error, OSError)) else f"{type(exc).__name__}: {exc}"
    write_transaction(
        con, lambda: finish_run(con, run_id, status="failed", error=detail), what=f"pipeline {spec.name}: end of run"
    )
    return PipelineResult(spec.name, run_id, "failed", error=f"{spec.name}: {detail}")

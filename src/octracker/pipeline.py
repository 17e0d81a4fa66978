"""One pipeline run, and a refresh of many: extract -> validate -> load -> views -> publish."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from octracker.catalog import Catalog, load_catalog
from octracker.curation import apply_curations
from octracker.documents import Document, read_document, store_raw
from octracker.errors import InputRefused, OctrackerError
from octracker.extractors import EXTRACTORS
from octracker.extracts import Extract, Problem
from octracker.history import LoadCounts, upsert_observations
from octracker.runs import finish_run, mark_interrupted_runs, quarantine_problems, start_run, upsert_source
from octracker.settings import Settings
from octracker.specs import PipelineSpec, load_specs, select_specs
from octracker.validation import validate_observations
from octracker.warehouse import open_writer, prepare_warehouse, publish, utc_now

log = logging.getLogger("octracker.pipeline")

#: Problems named in a failure message; the rest are in the quarantine table.
PROBLEMS_IN_MESSAGE = 5


@dataclass
class PipelineResult:
    """What one pipeline run did, as the summary and the exit status report it."""

    pipeline: str
    run_id: str
    status: str  # success / refused / failed
    counts: LoadCounts = field(default_factory=LoadCounts)
    quarantined: int = 0
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return {"success": 0, "refused": 2}.get(self.status, 1)


def extract_document(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """Run the spec's named extractor on the document, then the spec's curations on what it read."""
    try:
        extractor = EXTRACTORS[spec.extractor]
    except KeyError:
        raise InputRefused(
            f"{spec.path}: unknown extractor {spec.extractor!r}; known: {', '.join(sorted(EXTRACTORS))}"
        ) from None
    return apply_curations(extractor(document, spec, catalog), spec.curations, document.path.name)


def describe_problems(file_name: str, problems: list[Problem]) -> str:
    shown = "; ".join(p.describe(file_name) for p in problems[:PROBLEMS_IN_MESSAGE])
    more = len(problems) - PROBLEMS_IN_MESSAGE
    return shown + (f"; and {more} more (see `octracker status` or the quarantine table)" if more > 0 else "")


def refuse_document(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, run_id: str, document: Document | None,
    problems: list[Problem],
) -> PipelineResult:
    """Quarantine every problem and load nothing from the document."""
    file_name = document.path.name if document else (spec.document.name if spec.document else None)
    message = describe_problems(file_name or spec.name, problems) + "; nothing from it was loaded"
    con.execute("BEGIN TRANSACTION")
    quarantine_problems(con, problems, run_id=run_id, pipeline=spec.name, source_id=spec.source.source_id,
                        file_name=file_name)
    finish_run(con, run_id, status="failed", quarantined=len(problems), error=message)
    con.execute("COMMIT")
    return PipelineResult(spec.name, run_id, "refused", quarantined=len(problems), error=message)


def load_document(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, run_id: str, document: Document, extract: Extract,
) -> PipelineResult:
    """Write the source and its observations in one transaction: all of it or none."""
    source_id = spec.source.source_id
    con.execute("BEGIN TRANSACTION")
    try:
        upsert_source(con, document, source_id=source_id, kind=spec.source.kind or spec.extractor,
                      pipeline=spec.name, precedence=spec.precedence)
        counts = upsert_observations(
            con, extract.frame, pipeline=spec.name, run_id=run_id, source_ids=[source_id],
            full_snapshot=spec.full_snapshot, now=utc_now(),
        )
        finish_run(con, run_id, status="success", counts=counts)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return PipelineResult(spec.name, run_id, "success", counts=counts)


def run_pipeline(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, settings: Settings, catalog: Catalog, *,
    trigger: str = "manual",
) -> PipelineResult:
    """Run one pipeline; its failure is recorded and returned, never raised past the other pipelines."""
    run_id = start_run(con, spec.name, trigger)
    document = None
    try:
        # Load inputs.
        document = read_document(spec.document, spec.source)
        store_raw(settings.raw_dir, document)
        # Process data.
        extract = extract_document(document, spec, catalog)
        problems = extract.problems or validate_observations(extract.frame, catalog, settings.schemas_dir)
        if problems:
            return refuse_document(con, spec, run_id, document, problems)
        # Save outputs.
        return load_document(con, spec, run_id, document, extract)
    except InputRefused as exc:
        problem = Problem(check="refused", message=str(exc), payload="")
        return refuse_document(con, spec, run_id, document, [problem])
    except Exception as exc:  # noqa: BLE001 - recorded as a failed run and reported; the others go on
        log.debug("pipeline %s failed:\n%s", spec.name, traceback.format_exc())
        detail = str(exc) if isinstance(exc, (OctrackerError, duckdb.Error, OSError)) else f"{type(exc).__name__}: {exc}"
        finish_run(con, run_id, status="failed", error=detail)
        return PipelineResult(spec.name, run_id, "failed", error=f"{spec.name}: {detail}")


def refresh(
    settings: Settings,
    names: tuple[str, ...] | list[str] = (),
    *,
    trigger: str = "manual",
    on_result: Callable[[PipelineResult], None] | None = None,
) -> list[PipelineResult]:
    """Run the named pipelines (all when none), re-apply the views and publish the read-only copy."""
    catalog = load_catalog(settings.schemas_dir / "indicators.toml")
    specs = select_specs(load_specs(settings.pipelines_dir), names)
    results = []
    with open_writer(settings) as con:
        prepare_warehouse(con, settings, catalog)
        mark_interrupted_runs(con)
        for spec in specs:
            result = run_pipeline(con, spec, settings, catalog, trigger=trigger)
            results.append(result)
            if on_result:
                on_result(result)
        publish(con, settings)
    return results

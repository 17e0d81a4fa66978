"""One pipeline run, and a refresh of many: extract -> validate -> load -> views -> publish."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from octracker.content.catalog import Catalog
from octracker.content.documents import read_document, remove_partial_raw, store_raw
from octracker.content.fingerprints import (
    input_fingerprint,
    last_loaded_fingerprint,
    record_fingerprint,
    rules_fingerprint,
)
from octracker.content.specs import PipelineSpec, load_specs, select_specs
from octracker.errors import InputRefused, PublishFailed, WarehouseBusy
from octracker.load.inbox import INBOX_PIPELINE, IngestOverrides, ingest_inbox, loaded_before, stage_into_inbox
from octracker.load.results import PipelineResult, record_failure, refuse_document
from octracker.problems import Problem
from octracker.store.counts import LoadCounts
from octracker.store.rows import scalar
from octracker.store.runs import finish_run, mark_interrupted_runs, start_run
from octracker.store.settings import Settings
from octracker.store.warehouse import writer_session
from octracker.store.writers import pipeline_lease, write_transaction

if TYPE_CHECKING:
    from octracker.load.feed_runs import Prefetched


def run_pipeline(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    *,
    trigger: str = "manual",
    prefetched: Prefetched | None = None,
) -> PipelineResult:
    """Run one pipeline; its failure is recorded and returned, never raised past the other pipelines.

    On a shared lake another process may be running the same pipeline: it is waited for, then refused.
    """
    try:
        with pipeline_lease(con, spec.name, settings.lock_timeout_s):
            return run_leased_pipeline(con, spec, settings, catalog, trigger=trigger, prefetched=prefetched)
    except WarehouseBusy as exc:
        return PipelineResult(spec.name, "", "failed", error=str(exc))


def run_leased_pipeline(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    *,
    trigger: str,
    prefetched: Prefetched | None = None,
) -> PipelineResult:
    if spec.feed is not None:
        from octracker.load.feed_runs import run_feed_pipeline  # the HTTP client (httpx) only for a feed

        return run_feed_pipeline(con, spec, settings, catalog, trigger=trigger, prefetched=prefetched)
    run_id = start_run(con, spec.name, trigger)
    document = None
    contract = None
    try:
        # Load inputs.
        document = read_document(spec.document_path, spec.source)
        store_raw(settings.raw_dir, document)
        rules = rules_fingerprint(spec, settings.schemas_dir)
        fingerprint = input_fingerprint(rules, document)
        last_input, last_rules = last_loaded_fingerprint(con, spec.name)
        if fingerprint == last_input:
            return record_unchanged(con, spec, run_id, fingerprint, rules)
        # The document changed, so it is read and checked: the contract loads while it is read (see
        # `start_contract_warm_up`; once loaded, or begun by another warm-up, it is not loaded again).
        contract = start_contract_warm_up(settings)
        # Read now, and only now: a pipeline whose inputs did not change loads no reader, Polars or checks.
        from octracker.load.loading import extract_and_load
        from octracker.store.history import known_row_hashes

        # Under the rules of the last load, a table row it read gives the same observation: not read again (or, in a
        # table compared by key, read and left as it is; see `known_row_hashes`).
        same_rules = rules == last_rules
        known = known_row_hashes(con, spec.source_id, full_snapshot=spec.full_snapshot) if same_rules else None
        # Process data, save outputs.
        return extract_and_load(
            con,
            spec,
            settings,
            catalog,
            run_id,
            document,
            known_rows=known,
            also=lambda c: record_fingerprint(c, run_id, fingerprint, rules),
        )
    except InputRefused as exc:
        problem = Problem(check="refused", message=str(exc), payload="")
        return refuse_document(con, spec, run_id, document, [problem])
    except Exception as exc:  # noqa: BLE001 - recorded as a failed run and reported; the others go on
        return record_failure(con, spec, run_id, exc)
    finally:
        if contract is not None:
            contract.join()


def record_unchanged(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, run_id: str, fingerprint: str, rules: str
) -> PipelineResult:
    """Nothing the load depends on changed since the last one: its rows are all still current, as they were."""
    held = scalar(
        con,
        "SELECT COUNT(*) FROM observation_history WHERE valid_to IS NULL AND source_id = ?",
        [spec.source_id],
    )
    counts = LoadCounts(unchanged=held)

    def write() -> None:
        finish_run(con, run_id, status="success", counts=counts)
        record_fingerprint(con, run_id, fingerprint, rules)

    write_transaction(con, write, what=f"pipeline {spec.name}")
    return PipelineResult(spec.name, run_id, "unchanged", counts=counts, subject="inputs unchanged since the last load")


@contextlib.contextmanager
def open_refresh(settings: Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection, Catalog]]:
    """The writer connection of one refresh: schema and views current before, the read-only copy published after."""
    with writer_session(settings) as (con, catalog):
        mark_interrupted_runs(con)
        if settings.lake is None or settings.lake.catalog_kind != "postgres":
            # The only writer: what a raw-store write in progress left belongs to a process that died. (Writers
            # of a lake with a PostgreSQL catalog run side by side, so their files are left alone.)
            remove_partial_raw(settings.raw_dir)
        yield con, catalog


def refresh_plan(settings: Settings, names: tuple[str, ...] | list[str]) -> tuple[list[PipelineSpec], bool]:
    """The pipelines a refresh of these names runs, and whether it ingests the inbox after them."""
    wanted = [n for n in names if n != INBOX_PIPELINE]
    with_inbox = not names or INBOX_PIPELINE in names
    specs = select_specs(load_specs(settings.pipelines_dir), wanted) if wanted or not names else []
    return specs, with_inbox


def refresh(
    settings: Settings,
    names: tuple[str, ...] | list[str] = (),
    *,
    trigger: str = "manual",
    on_result: Callable[[PipelineResult], None] | None = None,
    stopping: threading.Event | None = None,
) -> list[PipelineResult]:
    """Run the named pipelines (all when none, then the inbox), re-apply the views and publish the read-only copy.

    `inbox` names the implicit pipeline that ingests the files waiting in the inbox. Feeds are fetched first,
    before the warehouse is opened, so that a slow server holds no writer (see `prefetch_feeds`). Once
    `stopping` is set (the scheduler's SIGTERM), no further feed is fetched and a refresh not yet begun is not.
    """
    specs, with_inbox = refresh_plan(settings, names)
    results: list[PipelineResult] = []
    prefetched: dict[str, Prefetched] = {}
    if any(spec.feed is not None for spec in specs):
        from octracker.load.feed_runs import prefetch_feeds  # the HTTP client (httpx) only when there are feeds

        prefetched = prefetch_feeds(settings, specs, stopping)
    if stopping is not None and stopping.is_set():
        return results

    def report(result: PipelineResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    # A new warehouse holds nothing its pipelines' documents could match: every one is read and checked, so the
    # contract loads while the warehouse is prepared and the first document read (see `ingest_files`).
    new_warehouse = settings.lake is None and not settings.warehouse.exists()
    contract = start_contract_warm_up(settings) if new_warehouse and specs else None
    try:
        with published_or_reported(report):
            with open_refresh(settings) as (con, catalog):
                for spec in specs:
                    fetched = prefetched.get(spec.name)
                    report(run_pipeline(con, spec, settings, catalog, trigger=trigger, prefetched=fetched))
                if with_inbox:
                    try:
                        with pipeline_lease(con, INBOX_PIPELINE, settings.lock_timeout_s):
                            ingest_inbox(con, settings, catalog, trigger=trigger, on_result=report)
                    except WarehouseBusy as exc:
                        report(PipelineResult(INBOX_PIPELINE, "", "failed", error=str(exc)))
    finally:
        if contract is not None:
            contract.join()
    return results


@contextlib.contextmanager
def published_or_reported(report: Callable[[PipelineResult], None]) -> Iterator[None]:
    """A publish that fails after the runs committed becomes one more failed result, after theirs."""
    try:
        yield
    except PublishFailed as exc:
        report(PipelineResult("publish", "", "failed", error=str(exc)))


def start_contract_warm_up(settings: Settings) -> threading.Thread:
    """Start loading the contract the rows will be checked against in a thread (see `warm_up_contract`); join it
    before the process ends.

    The thread imports Polars too (0.15-0.3 s of Python): meanwhile this one prepares the warehouse, mostly inside
    DuckDB, which lets it run. Nothing is imported for a file reported unchanged, which starts no warm-up.
    """

    def load() -> None:
        with contextlib.suppress(Exception):  # the first check imports the same, and fails as it would have
            from octracker.extract.validation import warm_up_contract

            warm_up_contract(settings.schemas_dir)

    thread = threading.Thread(target=load, name="octracker-contract", daemon=True)
    thread.start()
    return thread


def ingest_files(
    settings: Settings,
    paths: list[Path],
    overrides: IngestOverrides = IngestOverrides(),
    *,
    trigger: str = "manual",
    on_result: Callable[[PipelineResult], None] | None = None,
    stage: bool = False,
) -> list[PipelineResult]:
    """Ingest these inbox files now (as the inbox pipeline would), re-apply the views and publish.

    With `stage`, the files are first copied into the inbox (`octracker ingest PATH`), once this process is
    the writer: a copy that appeared earlier could be taken by a scheduled inbox run while this one waits.
    """
    results: list[PipelineResult] = []
    # A file given to read now is read and checked: the contract loads (0.2-0.3 s of Python) while a new warehouse
    # is prepared. A warehouse that exists is prepared first, when it is asked whether it holds these files already:
    # the same bytes loaded again are not read, so nothing is checked and Pandera is not loaded.
    new_warehouse = settings.lake is None and not settings.warehouse.exists()
    contract = start_contract_warm_up(settings) if new_warehouse else None
    try:
        with published_or_reported(results.append):
            with (
                open_refresh(settings) as (con, catalog),
                pipeline_lease(con, INBOX_PIPELINE, settings.lock_timeout_s),
            ):
                # Staged first: a file copied through memory is hashed as it is copied, once, and its bytes are not
                # read again (one file's: those of many would be held all at once).
                hashes: dict[Path, str] = {}
                contents: dict[Path, bytes] = {}
                if stage:
                    given, paths = paths, []
                    for path in given:
                        staged = stage_into_inbox(path, settings.inbox_dir)
                        paths.append(staged.path)
                        if staged.sha256 is not None:
                            hashes[staged.path] = staged.sha256
                        if staged.content is not None and len(given) == 1:
                            contents[staged.path] = staged.content
                if contract is None and not loaded_before(con, paths, hashes):
                    contract = start_contract_warm_up(settings)
                results += ingest_inbox(
                    con,
                    settings,
                    catalog,
                    trigger=trigger,
                    paths=paths,
                    overrides=overrides,
                    on_result=on_result,
                    hashes=hashes,
                    contents=contents,
                )
    finally:
        if contract is not None:
            contract.join()
    return results

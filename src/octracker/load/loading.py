"""Loading one document: extract -> validate -> load it whole, or refuse it whole into quarantine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Final

import duckdb
import polars as pl

from octracker.content.catalog import Catalog
from octracker.content.curation import apply_curations
from octracker.content.documents import Document
from octracker.content.specs import PipelineSpec
from octracker.errors import InputRefused
from octracker.extract.ahead import done_ahead
from octracker.extract.extractors import EXTRACTORS, READS_IN_BATCHES, READS_KNOWN_ROWS
from octracker.extract.validation import validate_observations
from octracker.extracts import Extract, KnownRows
from octracker.load.results import PipelineResult, refuse_document
from octracker.store.history import (
    LoadCounts,
    RestatedKeyConflict,
    first_load_done,
    holds_current,
    insert_first_versions,
    upsert_observations,
)
from octracker.store.runs import finish_run, quarantine_problems, upsert_source
from octracker.store.settings import Settings
from octracker.store.staging import (
    bounded_memory,
    discard_staged,
    drop_written_blocks,
    in_final_transaction,
    staging_done,
    start_staging,
)
from octracker.store.warehouse import WRITER_MEMORY_LIMIT, utc_now
from octracker.store.writers import in_write_transaction, write_transaction

log = logging.getLogger("octracker.load.pipeline")

#: A load of up to this many rows into a warehouse file of up to SMALL_WAREHOUSE_BYTES writes with DuckDB on one
#: thread (see `on_one_thread_if_small`).
SMALL_LOAD_ROWS = 100_000
SMALL_WAREHOUSE_BYTES = 64 * 1024 * 1024


def extract_document(
    document: Document, spec: PipelineSpec, catalog: Catalog, known_rows: KnownRows | None = None
) -> Extract:
    """Run the spec's named extractor on the document, then the spec's curations on what it read.

    `known_rows` (which of a table's row hashes the warehouse holds current, read under the same rules) lets a
    table reader skip those rows (see `reads_known_rows`).
    """
    try:
        extractor = EXTRACTORS[spec.extractor]
    except KeyError:
        raise InputRefused(
            f"{spec.path}: unknown extractor {spec.extractor!r}; known: {', '.join(sorted(EXTRACTORS))}"
        ) from None
    if known_rows is not None and reads_known_rows(spec):
        return READS_KNOWN_ROWS[spec.extractor](document, spec, catalog, known_rows=known_rows)
    return apply_curations(extractor(document, spec, catalog), spec.curations, document.path.name)


def reads_known_rows(spec: PipelineSpec) -> bool:
    """Whether the spec's reader is told the rows the warehouse holds current (`known_rows`): a table reader's, unless
    the spec has curations (then read whole, as its curations match on rows)."""
    return spec.extractor in READS_KNOWN_ROWS and not spec.curations


def record_source(con: duckdb.DuckDBPyConnection, spec: PipelineSpec, document: Document) -> None:
    """The source a load writes, as its spec and document describe it (in the load's transaction)."""
    upsert_source(
        con,
        document,
        source_id=spec.source_id,
        kind=spec.source.kind or spec.extractor,
        pipeline=spec.name,
        precedence=spec.precedence,
    )


def load_document(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    run_id: str,
    document: Document,
    extract: Extract,
    *,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    known_current: bool = False,
    same_rules: bool = False,
) -> PipelineResult:
    """Write the source and its observations in one transaction: all of it or none.

    `also` writes the caller's bookkeeping (feed state, inbox record) in the same transaction. `known_current`:
    the caller found that the source holds current versions; `same_rules`: the table reader was told the rows held
    current, read under the same rules (see `upsert_observations`).
    """
    source_id = spec.source_id
    log.debug("%s: loading %d rows from %s in one transaction", spec.name, extract.frame.height, document.path.name)

    def write_rows() -> LoadCounts:
        counts = upsert_observations(
            con,
            extract.frame,
            pipeline=spec.name,
            run_id=run_id,
            source_ids=[source_id],
            full_snapshot=spec.full_snapshot,
            now=utc_now(),
            restated=extract.restated,
            known_current=known_current,
            unstated=extract.unstated,
            constant=extract.constant,
            same_rules=same_rules,
        )
        # Rows the reader set aside with a reason (an area with no geography) go to quarantine, beside the load.
        if extract.left_out:
            quarantine_problems(
                con,
                extract.left_out,
                run_id=run_id,
                pipeline=spec.name,
                source_id=source_id,
                file_name=document.path.name,
            )
        return counts

    counts = _write_run(con, spec, run_id, document, write_rows, quarantined=len(extract.left_out), also=also)
    return PipelineResult(spec.name, run_id, "success", counts=counts, quarantined=len(extract.left_out))


def _write_run(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    run_id: str,
    document: Document,
    write_rows: Callable[[], LoadCounts],
    *,
    quarantined: int = 0,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> LoadCounts:
    """One transaction: the source, the rows (`write_rows`), the run finished as a success and the caller's `also`.

    On a lake, a commit another writer's refuses is redone whole on a fresh snapshot (octracker.store.writers).
    """

    def write() -> LoadCounts:
        record_source(con, spec, document)
        counts = write_rows()
        finish_run(con, run_id, status="success", counts=counts, quarantined=quarantined)
        if also is not None:
            also(con)
        return counts

    return write_transaction(con, write, what=f"pipeline {spec.name}")


class _BatchRefused(Exception):
    """A batch of a table read in batches has a problem: the transaction is rolled back."""


#: Polars' engine for the queries that read and check a table's batches (a few hundred thousand rows each): the
#: in-memory one, where polars otherwise picks its streaming engine, which costs each query a start of its own. Reading
#: and checking a batch runs about a hundred queries (the contract's checks are seventy of them), four thousand for the
#: 41 batches of a 10M-row table: its first load took 0.5 s of CPU less so (10.6 s against 11.1 s, medians of five
#: runs in turn), at the same peak. Set for the reading only: polars' settings are as they were after it.
BATCH_QUERIES_ENGINE: Final = "in-memory"
#: Batches checked against the contract ahead of the one DuckDB inserts: the contract's checks are polars queries,
#: which run beside DuckDB's insert rather than before it.
BATCH_CHECKS_AHEAD: Final = 1


def load_in_batches(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    document: Document,
    batches: Callable[[], Iterator[Extract]],
    *,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> PipelineResult | None:
    """A source's first load from a table read in batches: each batch validated, then inserted.

    Memory follows the batch, not the table; the load is still whole or nothing. On a warehouse file the rows are
    committed in stages that no reader sees, then made the source's rows by a final transaction with the source, the
    run's end and the caller's `also` (see `octracker.store.staging`); elsewhere (a lake, whose readers see every
    commit, or inside a caller's transaction) all is one transaction. At the first batch with a problem (a key
    repeated across batches is one, found after the last) nothing is left written and None is returned: the caller
    reads the document whole to list every problem.
    """
    staged = settings.lake is None and not in_write_transaction(con)
    log.debug(
        "%s: loading %s in batches of rows, %s",
        spec.name,
        document.path.name,
        "committed in stages" if staged else "in one transaction",
    )
    refused = False
    stages = 0
    # The series the load writes, as the insert meets them (see `first_load_done`).
    met: set[int] = set()

    def check(extract: Extract) -> tuple[Extract, bool]:
        # A reader in batches looks for repeated keys over the whole table and checks each row against the catalog
        # (READS_IN_BATCHES).
        problems = extract.problems or validate_observations(
            extract.frame, catalog, settings.schemas_dir, key_checked=True, catalog_checked=True
        )
        return extract, bool(problems)

    def checked() -> Iterator[Extract]:
        nonlocal refused
        # Each batch is checked in a thread while DuckDB inserts the one before it (see BATCH_CHECKS_AHEAD).
        with contextlib.closing(
            done_ahead(check, batches(), ahead=BATCH_CHECKS_AHEAD, name="octracker-checks")
        ) as read:
            for extract, has_problems in read:
                if has_problems:
                    refused = True
                    raise _BatchRefused
                yield extract

    def stage(work: Callable[[], object]) -> None:
        nonlocal stages
        write_transaction(con, work, what=f"pipeline {spec.name}: a stage of its first load")
        drop_written_blocks(con)
        stages += 1
        log.debug("%s: stage %d of the first load of %s committed", spec.name, stages, document.path.name)

    def insert_rows() -> int:
        try:
            # The batches are read and checked as DuckDB inserts them (see BATCH_QUERIES_ENGINE).
            with pl.Config(engine_affinity=BATCH_QUERIES_ENGINE):
                met.clear()  # a transaction run again (a lake's commit refused) meets them again
                return insert_first_versions(
                    con,
                    checked(),
                    pipeline=spec.name,
                    run_id=run_id,
                    now=utc_now(),
                    stage=stage if staged else None,
                    met=met,
                )
        except (duckdb.Error, _BatchRefused):
            # DuckDB reports an exception raised while it reads the stream as an error of its own.
            if refused:
                raise _BatchRefused from None
            raise

    def finish(rows: int) -> LoadCounts:
        first_load_done(con, [spec.source_id], met)
        if staged:
            staging_done(con, run_id)
        return LoadCounts(new=rows)

    try:
        if not staged:
            counts = _write_run(con, spec, run_id, document, lambda: finish(insert_rows()), also=also)
        else:
            start_staging(con, run_id, pipeline=spec.name, source_id=spec.source_id, now=utc_now())
            try:
                with bounded_memory(con, writer_limit=WRITER_MEMORY_LIMIT):
                    rows = insert_rows()
                    counts = in_final_transaction(
                        con, lambda: _write_run(con, spec, run_id, document, lambda: finish(rows), also=also)
                    )
            except BaseException:
                # Readers never saw the stages; should this fail too, they are removed before this writer
                # publishes, or by the next writer to start.
                try:
                    discard_staged(con)
                except Exception as exc:  # the load's own error is the one raised, below
                    log.warning(
                        "%s: the rows its failed load wrote in stages could not be removed now (%s); they are removed "
                        "before this write publishes, or when the next write starts, and no reader sees them",
                        spec.name,
                        str(exc).strip(),
                    )
                raise
    except _BatchRefused:
        return None
    return PipelineResult(spec.name, run_id, "success", counts=counts)


def extract_and_load(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    document: Document,
    *,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    also_refused: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
    known_rows: KnownRows | None = None,
) -> PipelineResult:
    """Extract, validate, then load the document whole, or refuse it whole into quarantine.

    With `known_rows`, rows the warehouse holds unchanged are not read again (see `extract_document`), or, in a table
    compared by key, are read and left as they are by the comparison (see `known_row_hashes`); when a changed row
    turns out to repeat the key of a row not read, the document is read again in full, so that the duplicate is
    refused exactly as a full read refuses it.
    """
    read_in_batches = READS_IN_BATCHES.get(spec.extractor)
    known_current = False
    if read_in_batches is not None and not spec.curations:
        known_current = holds_current(con, [spec.source_id])
        batches = None if known_current else read_in_batches(document, spec, catalog)
        if batches is not None:
            loaded = load_in_batches(con, spec, settings, catalog, run_id, document, batches, also=also)
            if loaded is not None:
                return loaded
            log.info("%s: %s has problems; reading it whole to list them", spec.name, document.path.name)
    extract = extract_document(document, spec, catalog, known_rows)
    # A reader of READS_IN_BATCHES checks every row against the catalog itself, read whole or in batches; only curations
    # could change what it read.
    catalog_checked = read_in_batches is not None and not spec.curations
    problems = extract.problems or validate_observations(
        extract.frame, catalog, settings.schemas_dir, catalog_checked=catalog_checked
    )
    if problems:
        return refuse_document(con, spec, run_id, document, problems, also=also_refused)
    try:
        with on_one_thread_if_small(con, settings, extract.frame.height):
            return load_document(
                con,
                spec,
                run_id,
                document,
                extract,
                also=also,
                known_current=known_current,
                same_rules=known_rows is not None and reads_known_rows(spec),
            )
    except RestatedKeyConflict as exc:
        log.info("%s: %s; reading %s again in full", spec.name, exc, document.path.name)
        return extract_and_load(con, spec, settings, catalog, run_id, document, also=also, also_refused=also_refused)


@contextlib.contextmanager
def on_one_thread_if_small(con: duckdb.DuckDBPyConnection, settings: Settings, rows: int) -> Iterator[None]:
    """Have DuckDB write a small load (up to SMALL_LOAD_ROWS rows into a warehouse file of up to
    SMALL_WAREHOUSE_BYTES) on one thread: its statements (the rows, their comparison, the alert findings of their
    series) read a few ten thousand rows each, which a second thread splits into tasks, and hash tables, of its own
    for no time gained, 0.1 s of CPU of a publisher's file's load. A larger load or warehouse, and a lake, keep
    DuckDB's threads."""
    try:
        small = settings.lake is None and rows <= SMALL_LOAD_ROWS
        small = small and settings.warehouse.stat().st_size <= SMALL_WAREHOUSE_BYTES
    except OSError:
        small = False
    if not small:
        yield
        return
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):  # a connection that failed keeps the error it raised
            con.execute("RESET threads")

"""First loads committed in stages that no reader sees, and the removal of those that never finished.

DuckDB keeps in memory the blocks a load writes: a 30M-row first load in one transaction ended holding 0.6 GiB of
them (0.2 GiB at 10M), so its peak grew with the table. A first load read in batches on a warehouse file therefore
commits its rows in stages, each marked with the run's id, under a memory limit past which DuckDB drops the
committed blocks (they are in the file) rather than keep them, and the run's final transaction (the source record,
the run's end, the alert findings, the caller's bookkeeping) makes them the source's rows.

No reader sees a stage: analysts and alert jobs read the published copy, which the writer makes only after the load
ended, and nothing of the writer reads the history between two stages. The run is listed in `staged_runs` from its
first stage until its final transaction; rows of a run still listed belong to a load that failed or was killed
between stages. The writer deletes them when the load fails, before it publishes, and every writer when it starts,
before anything reads the history: from every reader's side the load is still whole or nothing.

A lake is never loaded in stages: its readers attach its committed snapshots, so every commit is seen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import duckdb

from octracker.store.rows import scalar
from octracker.store.writers import write_transaction

log = logging.getLogger("octracker.store.staging")

T = TypeVar("T")

#: DuckDB's memory limit over the stages of a load (see `bounded_memory`). Without a limit DuckDB keeps every block
#: it wrote, committed or not: the benchmark's 30M-row first load in stages still peaked at 1.67 GiB; 1.46 GiB under
#: this limit. A 10M-row load does not reach it (its blocks come to about 210 MiB). 256 MB held the 30M load to
#: 1.21 GiB, but the 10M load then took 22-30 % more CPU time than without it.
STAGED_MEMORY_LIMIT = "512MB"


#: DuckDB's memory limit over the final transaction of a load in stages (see `in_final_transaction`).
FINAL_MEMORY_LIMIT = "256MB"

#: DuckDB's memory limit for a moment after each stage commits (see `drop_written_blocks`).
DROP_BLOCKS_LIMIT = "64MB"


def drop_written_blocks(con: duckdb.DuckDBPyConnection) -> None:
    """After a stage commits: let DuckDB drop the blocks it keeps of the rows written so far, which are in the file
    and which no later stage reads. Under STAGED_MEMORY_LIMIT DuckDB keeps them until it needs the room, so its memory
    grew with the table up to that limit (0.2 GiB after 10M rows, 0.4 GiB after 30M); a limit lowered for a moment
    drops them, and the next stage starts from its own working memory. Nothing is lost if DuckDB cannot go as low
    (it says it is out of memory): the limit is set back either way. Any other error stops the load."""
    try:
        con.execute("SET memory_limit = ?", [DROP_BLOCKS_LIMIT])
    except duckdb.OutOfMemoryException as exc:
        log.debug("DuckDB kept the blocks written so far: it cannot go down to %s (%s)", DROP_BLOCKS_LIMIT, exc)
    con.execute("SET memory_limit = ?", [STAGED_MEMORY_LIMIT])


def in_final_transaction(con: duckdb.DuckDBPyConnection, transaction: Callable[[], T]) -> T:
    """The final transaction of a load in stages (`transaction`, whole or nothing), run under FINAL_MEMORY_LIMIT, which
    `bounded_memory` sets back after. The stored findings of the series loaded scan the whole history four times, and
    DuckDB kept every block those scans read until it reached the stages' bound: the table's blocks, 125 MiB after 10M
    rows and 365 MiB after 30M, which made the final transaction the 30M load's peak (the 30M peak 1.37x the 10M one).
    The findings' own working set is not the table's (about 180 MiB of hash tables and results for the benchmark's
    followed series at 10M and 30M alike); under this bound DuckDB reads the blocks again from the file instead of
    keeping them, for the same CPU within the noise (the 30M findings alone: 5.9-6.3 s of CPU either way).

    The findings of many series are computed in parts of them (see octracker.store.findings.series_per_part), each
    part's working set its own (see series_keys_in), and each part's findings written to the file as they come: the
    first load of a 10M-row table of neighbourhoods whose 500,000 series alerts all follow stores its 1.5M findings
    under this bound. (It ran out of memory here while every part's findings stayed in memory until the commit.)
    Should a transaction still run out of memory, it has been rolled back whole (the stages stay, as they would for a
    failure after them), and is run again once under the stages' bound, where more of it spills beside the warehouse.
    Should DuckDB be unable to go as low as FINAL_MEMORY_LIMIT to begin with (it says it is out of memory), the
    transaction runs under the stages' bound at once."""
    try:
        con.execute("SET memory_limit = ?", [FINAL_MEMORY_LIMIT])
    except duckdb.OutOfMemoryException as exc:
        log.debug(
            "the final transaction keeps the stages' bound: DuckDB cannot go down to %s (%s)", FINAL_MEMORY_LIMIT, exc
        )
        return transaction()
    try:
        return transaction()
    except duckdb.OutOfMemoryException as exc:
        log.info(
            "the final transaction of a load in stages needs more memory than %s (%s): it is run again under %s",
            FINAL_MEMORY_LIMIT,
            str(exc).splitlines()[0],
            STAGED_MEMORY_LIMIT,
        )
    con.execute("SET memory_limit = ?", [STAGED_MEMORY_LIMIT])
    return transaction()


@contextlib.contextmanager
def bounded_memory(con: duckdb.DuckDBPyConnection, *, writer_limit: str) -> Iterator[None]:
    """Hold DuckDB's memory to STAGED_MEMORY_LIMIT while the stages of a load commit and in its final transaction;
    the writer's own limit (`writer_limit`, as it was opened with) is set again after, for whatever the writer does
    next. The final transaction reads the rows the stages wrote (the series loaded, the stored findings' full
    recompute), and under the writer's limit DuckDB kept every block it read: the benchmark's 30M-row load peaked
    there, at 1,073 MiB against 922-957 MiB under this bound. What the findings need beyond it spills beside the
    warehouse: a 3M-row CBS-like table's load peaked at 1.0-1.3 GiB instead of 2.9 GiB, for 12-19 % more CPU.

    Should DuckDB refuse the writer's limit back, the load stands (committed, or failed with its own error) and the
    writer keeps the lower bound until it closes, which is safe for memory but may spill more: a warning says so."""
    con.execute("SET memory_limit = ?", [STAGED_MEMORY_LIMIT])
    try:
        yield
    finally:
        try:
            con.execute("SET memory_limit = ?", [writer_limit])
        except duckdb.Error as exc:
            log.warning(
                "DuckDB's memory limit could not be set back to %s after a load in stages (%s): this write goes on "
                "under the load's %s, so it may spill more and take longer; the next write opens with %s again",
                writer_limit,
                str(exc).strip(),
                STAGED_MEMORY_LIMIT,
                writer_limit,
            )


def start_staging(
    con: duckdb.DuckDBPyConnection, run_id: str, *, pipeline: str, source_id: str, now: dt.datetime
) -> None:
    """List the run as loading in stages, committed before its first stage.

    Work that earlier writes owe before a commit (alert findings) is done in this transaction, so that a stage
    commits nothing but rows.
    """
    write_transaction(
        con,
        lambda: con.execute(
            "INSERT INTO staged_runs (run_id, pipeline, source_id, staged_at) VALUES (?, ?, ?, ?)",
            [run_id, pipeline, source_id, now],
        ),
        what=f"pipeline {pipeline}: start of a load in stages",
    )


def staging_done(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """In the run's final transaction: its stages become the source's rows as that transaction commits."""
    con.execute("DELETE FROM staged_runs WHERE run_id = ?", [run_id])


def discard_staged(con: duckdb.DuckDBPyConnection) -> int:
    """Delete the rows of every load in stages that never reached its final transaction, in a transaction of its
    own; the rows deleted.

    Called when no load in stages is under way on `con`: when such a load fails, when a writer starts and before a
    writer publishes.
    """
    if not scalar(con, "SELECT EXISTS (SELECT 1 FROM staged_runs)"):
        return 0

    def delete() -> int:
        staged = "SELECT load_id FROM loads WHERE run_id IN (SELECT run_id FROM staged_runs)"
        deleted = scalar(con, f"SELECT COUNT(*) FROM observation_versions WHERE load_id IN ({staged})")
        con.execute(f"DELETE FROM observation_versions WHERE load_id IN ({staged})")
        con.execute("DELETE FROM loads WHERE run_id IN (SELECT run_id FROM staged_runs)")
        # The series the stages listed that no version names now (migration 0020): the warehouse as before the load.
        con.execute(
            "DELETE FROM series_keys WHERE series_id NOT IN (SELECT DISTINCT series_id FROM observation_versions)"
        )
        con.execute("DELETE FROM staged_runs")
        return deleted

    deleted = write_transaction(con, delete, what="rows of loads that did not finish")
    log.info("removed %d rows that a load which did not finish had written in stages", deleted)
    return deleted

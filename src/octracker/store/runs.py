"""Bookkeeping rows: runs, sources and quarantine."""

from __future__ import annotations

import datetime as dt
import secrets

import duckdb

from octracker.content.documents import Document
from octracker.problems import Problem
from octracker.store.counts import LoadCounts
from octracker.store.findings import source_changed
from octracker.store.rows import scalar
from octracker.store.warehouse import utc_now
from octracker.store.writers import try_pipeline_lease, write_transaction


def new_run_id(now: dt.datetime) -> str:
    """Sortable by start time, unique without a sequence (DuckLake has none)."""
    return f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def mark_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Runs still 'running' whose process died: on a single-writer warehouse every one; on a shared lake,
    those of pipelines whose lease no live process holds (a live writer's run is left alone)."""
    pipelines = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT pipeline FROM runs WHERE status = 'running' ORDER BY pipeline"
        ).fetchall()
    ]
    count = 0
    for pipeline in pipelines:
        with try_pipeline_lease(con, pipeline) as held:
            if held:
                count += write_transaction(
                    con, lambda: _mark_interrupted(con, pipeline), what=f"pipeline {pipeline}: interrupted runs"
                )
    return count


def _mark_interrupted(con: duckdb.DuckDBPyConnection, pipeline: str) -> int:
    count = scalar(con, "SELECT COUNT(*) FROM runs WHERE status = 'running' AND pipeline = ?", [pipeline])
    if count:
        con.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, "
            "error = 'the process stopped before the run finished; nothing of it was committed' "
            "WHERE status = 'running' AND pipeline = ?",
            [utc_now(), pipeline],
        )
    return count


def start_run(con: duckdb.DuckDBPyConnection, pipeline: str, trigger: str) -> str:
    """Record a run as running, committed at once so a crash leaves a trace."""
    now = utc_now()
    run_id = new_run_id(now)
    write_transaction(
        con,
        lambda: con.execute(
            "INSERT INTO runs (run_id, pipeline, started_at, status, trigger) VALUES (?, ?, ?, 'running', ?)",
            [run_id, pipeline, now, trigger],
        ),
        what=f"pipeline {pipeline}: start of run",
    )
    return run_id


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    counts: LoadCounts = LoadCounts(),
    quarantined: int = 0,
    error: str | None = None,
) -> None:
    """Record how a run ended, in the caller's transaction (alone: wrap it in `write_transaction`)."""
    con.execute(
        "UPDATE runs SET status = ?, finished_at = ?, rows_new = ?, rows_revised = ?, rows_unchanged = ?, "
        "rows_retracted = ?, rows_quarantined = ?, error = ? WHERE run_id = ?",
        [status, utc_now(), counts.new, counts.revised, counts.unchanged, counts.retracted, quarantined, error, run_id],
    )


def quarantine_problems(
    con: duckdb.DuckDBPyConnection,
    problems: list[Problem],
    *,
    run_id: str,
    pipeline: str,
    source_id: str | None,
    file_name: str | None,
) -> None:
    if not problems:
        return
    import pyarrow as pa  # here, not at the top: a run that sets nothing aside has no use for Arrow

    # One insert from an Arrow table: a row-by-row executemany costs milliseconds a row (the UNODC export sets
    # 450 rows aside, which took 1.5 s that way). Read as an Arrow C stream, once: DuckDB would import pyarrow's
    # dataset module (0.1-0.3 s) to read the pyarrow table itself.
    rows = pa.table(
        {
            "reason": pa.array([p.message for p in problems], pa.string()),
            "payload": pa.array([p.payload for p in problems], pa.string()),
            "line_no": pa.array([p.line_no for p in problems], pa.int64()),
            "check_name": pa.array([p.check for p in problems], pa.string()),
        }
    )
    con.register("_quarantined", rows.__arrow_c_stream__())
    try:
        con.execute(
            "INSERT INTO quarantine (run_id, pipeline, source_id, reason, payload, file_name, line_no, check_name, "
            "quarantined_at) SELECT ?, ?, ?, reason, payload, ?, line_no, check_name, ? FROM _quarantined",
            [run_id, pipeline, source_id, file_name, utc_now()],
        )
    finally:
        con.unregister("_quarantined")


def upsert_source(
    con: duckdb.DuckDBPyConnection,
    document: Document,
    *,
    source_id: str,
    kind: str,
    pipeline: str,
    precedence: int,
) -> bool:
    """Record the document as a source; unchanged metadata and content write nothing. True when written."""
    meta = document.meta
    row = [
        source_id,
        kind,
        meta.title,
        meta.publisher,
        meta.published_on,
        meta.published_precision,
        meta.url,
        meta.licence,
        document.sha256,
        pipeline,
        precedence,
        document.path.name,
    ]
    current = con.execute(
        "SELECT source_id, kind, title, publisher, published_on, published_precision, url, licence, sha256, "
        "pipeline, precedence, file_name FROM sources WHERE source_id = ?",
        [source_id],
    ).fetchone()
    if current is not None and list(current) == row:
        return False
    source_changed(con, source_id)  # precedence and publication dates rank values and date revisions
    con.execute("DELETE FROM sources WHERE source_id = ?", [source_id])
    con.execute(
        "INSERT INTO sources (source_id, kind, title, publisher, published_on, published_precision, url, licence, "
        "sha256, pipeline, precedence, file_name, retrieved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*row, utc_now()],
    )
    # `sources` keeps the latest record only; a revision alert cites the publication date each value came with.
    con.execute(
        "INSERT INTO source_versions (source_id, published_on, published_precision, sha256, retrieved_at) "
        "SELECT source_id, published_on, published_precision, sha256, retrieved_at FROM sources WHERE source_id = ?",
        [source_id],
    )
    return True

"""One measured step per process: `python -m benchmarks.steps STEP JSON-ARGS RESULT-FILE`.

Each step runs in a fresh interpreter so that its peak memory (read by the parent from the child's
rusage) is its own, and times only the work (imports are excluded). Octracker steps call the same
functions the CLI calls; nothing of the engine is re-implemented here.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # dlt: never phone home from a benchmark
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")


def timed(phases: dict[str, float], name: str, fn: Callable) -> Callable:
    """Wrap `fn` so its wall time adds to `phases[name]` (the wrapper costs nanoseconds)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def quiet_duckdb(con) -> None:
    con.execute("SET enable_progress_bar = false")


# --- bare DuckDB baselines ---------------------------------------------------------------------------------


def bare_ctas(args: dict[str, Any]) -> dict[str, Any]:
    """The file into a new DuckDB file with CREATE TABLE AS SELECT, committed and checkpointed."""
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect(args["db"])
    quiet_duckdb(con)
    con.execute("CREATE TABLE observations AS SELECT * FROM read_parquet(?)", [args["file"]])
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def bare_insert(args: dict[str, Any]) -> dict[str, Any]:
    """The file appended with INSERT ... SELECT into a declared plain table, committed and checkpointed."""
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect(args["db"])
    quiet_duckdb(con)
    con.execute(
        "CREATE TABLE observations (indicator VARCHAR, geo VARCHAR, period VARCHAR, value DOUBLE, unit VARCHAR)"
    )
    con.execute(
        "INSERT INTO observations SELECT indicator, geo, period, value, unit FROM read_parquet(?)", [args["file"]]
    )
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


# --- octracker ---------------------------------------------------------------------------------------------


def octracker_refresh(args: dict[str, Any]) -> dict[str, Any]:
    """The refresh `octracker refresh PIPELINE` runs, with the time of each hop recorded on the side; not the summary
    the command prints after it (the `..._command` results of `benchmarks.run` time the command whole)."""
    from octracker.load import pipeline
    from octracker.store.settings import build_settings

    phases = timed_hops()
    settings = build_settings(project=args["project"], warehouse=args["warehouse"], environ={})
    start = time.perf_counter()
    results = pipeline.refresh(settings, [args["pipeline"]])
    return loaded(settings, results[0], time.perf_counter() - start, phases)


def octracker_scheduled(args: dict[str, Any]) -> dict[str, Any]:
    """The day's corrections refreshed by the scheduler's long-lived process (`ScheduledJobs.run_pipelines`), which
    refreshed the day before's in the same process: the contract, Pandera and the modules a load imports as it goes
    are already loaded. The document of the monthly pipeline is `args["earlier"]` for the first refresh (untimed,
    reported as `first_*`), then `args["table"]`, placed as the harness places it, for the timed one; each must
    revise exactly SMALL_CHANGE_ROWS rows. The process's CPU covers both: each refresh's own (all threads) is its
    `refresh_cpu_seconds`."""
    from benchmarks.dataset import MONTHLY, SMALL_CHANGE_ROWS, write_spec
    from octracker.load import pipeline
    from octracker.store.settings import build_settings

    phases = timed_hops()
    project = Path(args["project"])
    settings = build_settings(project=project, warehouse=args["warehouse"], environ={})

    def scheduled_refresh(table: str) -> dict[str, Any]:
        write_spec(project, Path(table), MONTHLY, full_snapshot=False)
        phases.clear()
        start, cpu = time.perf_counter(), time.process_time()
        results = pipeline.refresh(settings, [MONTHLY.pipeline], trigger="schedule")
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        run = loaded(settings, results[0], seconds, dict(phases))
        if (run["new"], run["revised"], run["retracted"]) != (0, SMALL_CHANGE_ROWS, 0):
            raise SystemExit(
                f"octracker_scheduled: the refresh of {table} counted {run['new']} new, {run['revised']} revised and "
                f"{run['retracted']} retracted; a small change revises {SMALL_CHANGE_ROWS} and adds none"
            )
        return {**run, "refresh_cpu_seconds": cpu_seconds}

    first = scheduled_refresh(args["earlier"])  # the day before's, untimed
    result = scheduled_refresh(args["table"])
    kept = ("seconds", "refresh_cpu_seconds", "phases", "revised", "versions")
    return {**result, **{f"first_{k}": first[k] for k in kept}}


def octracker_ingest(args: dict[str, Any]) -> dict[str, Any]:
    """`octracker ingest FILE` as the CLI runs it: the file and its sidecar staged into the inbox, then loaded."""
    from octracker.load import pipeline
    from octracker.store.settings import build_settings

    phases = timed_hops()
    settings = build_settings(project=args["project"], warehouse=args["warehouse"], environ={})
    start = time.perf_counter()
    results = pipeline.ingest_files(settings, [Path(args["file"])], stage=True)
    return loaded(settings, results[0], time.perf_counter() - start, phases)


def timed_hops() -> dict[str, float]:
    """Record the time of each hop of a load (the engine's functions wrapped where they are looked up)."""
    from octracker.extract.publishers.kinds import PublisherKind
    from octracker.load import inbox, loading, pipeline
    from octracker.store import findings, history, warehouse

    phases: dict[str, float] = {}
    for module, names in (
        (warehouse, ("prepare_warehouse", "publish")),
        # Called by name when a write commits: the stored alert findings of the series it changed.
        (findings, ("settle_findings",)),
        (pipeline, ("read_document", "store_raw", "stage_into_inbox")),
        (inbox, ("store_raw",)),
        (loading, ("extract_document", "validate_observations", "upsert_observations", "insert_first_versions")),
    ):
        for name in names:
            setattr(module, name, timed(phases, name, getattr(module, name)))
    # A publisher's file is read where the inbox names its source (the load then takes that read's table).
    PublisherKind.read = timed(phases, "read_publisher_file", PublisherKind.read)  # type: ignore[method-assign]
    # Inside extract_document (and in its time too): a load under the rules of the last one asks the warehouse which
    # of the table's row hashes it holds current, so as not to read those rows again.
    lookup = history.known_row_hashes

    def known_row_hashes(con, source_id: str, **how: Any):
        return timed(phases, "known_row_hashes", lookup(con, source_id, **how))

    history.known_row_hashes = known_row_hashes
    return phases


def loaded(settings, result, seconds: float, phases: dict[str, float]) -> dict[str, Any]:
    """A load's result and the warehouse after it; a load that did not succeed stops the benchmark."""
    import duckdb

    if result.status not in ("success", "unchanged"):
        raise SystemExit(f"{result.label}: {result.status}: {result.error}")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    versions, current = con.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE valid_to IS NULL) FROM observation_history"
    ).fetchone()
    con.close()
    return {
        "seconds": seconds,
        "phases": phases,
        "status": result.status,
        "new": result.counts.new,
        "revised": result.counts.revised,
        "unchanged": result.counts.unchanged,
        "retracted": result.counts.retracted,
        "versions": versions,
        "current": current,
        "warehouse_bytes": settings.warehouse.stat().st_size,
    }


def octracker_views(args: dict[str, Any]) -> dict[str, Any]:
    """Views and alerts brought up to date as the engine does it.

    The refresh is `prepare_warehouse` (migrations, catalog, alert rules, views re-applied) and
    `plan_alert_events` (what `octracker alerts send` does first: read trend_alerts, write the events),
    which computes every view the alerts stand on.
    """
    from octracker.alerts.outbox import plan_alert_events
    from octracker.content.catalog import load_catalog
    from octracker.store.settings import build_settings
    from octracker.store.warehouse import open_writer, prepare_warehouse, utc_now

    settings = build_settings(project=args["project"], warehouse=args["warehouse"], environ={})
    phases: dict[str, float] = {}
    start = time.perf_counter()
    catalog = load_catalog(settings.schemas_dir / "indicators.toml")
    with open_writer(settings) as con:
        quiet_duckdb(con)
        timed(phases, "prepare_warehouse", prepare_warehouse)(con, settings, catalog)
        planned = timed(phases, "plan_alert_events", plan_alert_events)(con, [], utc_now())
    return {"seconds": time.perf_counter() - start, "phases": phases, "alerts_opened": planned.opened}


def octracker_each_view(args: dict[str, Any]) -> dict[str, Any]:
    """Every view computed in full on the published copy, one at a time (for information: which costs what)."""
    import duckdb

    con = duckdb.connect(args["published"], read_only=True)
    quiet_duckdb(con)
    per_view: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    views = [
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name").fetchall()
    ]
    for view in views:
        t = time.perf_counter()
        rows = con.execute(f"SELECT COUNT(*) FROM (SELECT * FROM {view})").fetchone()[0]
        per_view[view] = {"seconds": time.perf_counter() - t, "rows": rows}
    con.close()
    return {"seconds": time.perf_counter() - start, "views": per_view}


def octracker_query(args: dict[str, Any]) -> dict[str, Any]:
    """One indicator through a view on the published copy, as an analyst opens it (read-only).

    The rows are fetched as an Arrow table (how a notebook reads them); the first run, which warms the
    file cache, is reported apart from the median of the others.
    """
    import statistics

    import duckdb

    con = duckdb.connect(args["published"], read_only=True)
    quiet_duckdb(con)
    sql = f"SELECT * FROM {args['view']} WHERE indicator_id = ?"
    timings, rows = [], 0
    for _ in range(args.get("repeat", 10)):
        t = time.perf_counter()
        rows = con.execute(sql, [args["indicator"]]).to_arrow_table().num_rows
        timings.append(time.perf_counter() - t)
    con.close()
    return {"seconds": statistics.median(timings[1:]), "first_seconds": timings[0], "rows": rows, "view": args["view"]}


# --- dlt ---------------------------------------------------------------------------------------------------


def dlt_merge(args: dict[str, Any]) -> dict[str, Any]:
    """The Parquet file into DuckDB by dlt, its usual way for a keyed table: write_disposition='merge'.

    The file is handed over as an Arrow table (dlt's fastest path); the key is the table's natural key.
    """
    import dlt

    start = time.perf_counter()
    table = READERS[args.get("reader", "parquet")](args["file"])

    @dlt.resource(
        name="observations",
        write_disposition="merge",
        primary_key=tuple(args.get("key", ("indicator", "geo", "period"))),
    )
    def observations():
        yield table

    pipe = dlt.pipeline(
        pipeline_name="bench_dlt",
        pipelines_dir=args["pipelines_dir"],
        destination=dlt.destinations.duckdb(args["db"]),
        dataset_name="bench_data",
    )
    info = pipe.run(observations())
    seconds = time.perf_counter() - start
    info.raise_on_failed_jobs()
    import duckdb

    con = duckdb.connect(args["db"], read_only=True)
    rows = con.execute("SELECT COUNT(*) FROM bench_data.observations").fetchone()[0]
    con.close()
    return {"seconds": seconds, "rows": rows}


def read_parquet(path: str):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def read_csv(path: str):
    """An SDMX-CSV file as text columns and a float value, as a data engineer would hand it to dlt."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(column_types={"TIME_PERIOD": pa.string(), "OBS_VALUE": pa.float64()})
    )


def read_jsonstat(path: str):
    """A JSON-stat 2.0 dataset flattened to one row per value: each dimension's code found from the value's
    position (row-major over `id`), the shortest way to a table dlt takes."""
    import polars as pl

    body = json.loads(Path(path).read_text(encoding="utf-8"))
    positions = pl.Series([int(k) for k in body["value"]], dtype=pl.Int64)
    columns, stride = {}, 1
    for dim, size in reversed(list(zip(body["id"], body["size"]))):
        index = body["dimension"][dim]["category"]["index"]
        codes = pl.Series(sorted(index, key=index.get), dtype=pl.String)
        columns[dim] = codes.gather((positions // stride) % size)
        stride *= size
    values = pl.Series(list(body["value"].values()), dtype=pl.Float64)
    return pl.DataFrame({**{d: columns[d] for d in body["id"]}, "value": values}).to_arrow()


READERS = {"parquet": read_parquet, "csv": read_csv, "jsonstat": read_jsonstat}

STEPS = {
    "bare_ctas": bare_ctas,
    "bare_insert": bare_insert,
    "octracker_refresh": octracker_refresh,
    "octracker_scheduled": octracker_scheduled,
    "octracker_ingest": octracker_ingest,
    "octracker_views": octracker_views,
    "octracker_each_view": octracker_each_view,
    "octracker_query": octracker_query,
    "dlt_merge": dlt_merge,
}


def own_peak_mib() -> float | None:
    """This process's own peak resident memory (Linux: VmHWM), or None where the system does not say.

    The parent's `ru_maxrss` of a child is no substitute on Linux: a child starts as a copy of its parent,
    and its high-water mark keeps the parent's resident size at the fork even after `exec`.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def main(argv: list[str]) -> None:
    step, raw_args, result_file = argv
    result = STEPS[step](json.loads(raw_args))
    result["own_peak_mib"] = own_peak_mib()
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

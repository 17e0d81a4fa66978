"""The warehouse on a DuckLake against the embedded DuckDB file: a 1M-row ingest and the views, as ratios.

    python benchmarks/lake_vs_file.py               # 1,000,000 rows, views timed 3 times (median)
    python benchmarks/lake_vs_file.py --rows 100000 # a quick run
    python benchmarks/lake_vs_file.py --runs 3      # each backend measured 3 times, interleaved; medians

Needs the `lake` extra and a PostgreSQL server named by PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (e.g.
`eval "$(scripts/start_test_postgres.sh start)"`); without one, only the local-catalog lake is measured.
The canonical frame is generated here and loaded through `upsert_observations`, the loader every
pipeline uses, inside the same `write_transaction` a pipeline run uses; the views are read through the
same read-only connection analysts get (`open_reader`). Everything runs in one process, in turn.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from octracker.content.catalog import load_catalog  # noqa: E402
from octracker.store.history import upsert_observations  # noqa: E402
from octracker.store.settings import Settings, build_settings  # noqa: E402
from octracker.store.warehouse import open_reader, open_writer, prepare_warehouse, publish, utc_now  # noqa: E402
from octracker.store.writers import write_transaction  # noqa: E402

VIEWS = ("observations", "series", "source_conflicts")
SOURCE_ID = "bench-statistics-office"


def canonical_frame(rows: int, revised_share: float = 0.0) -> pl.DataFrame:
    """`rows` monthly observations: 10 indicators x N geographies x 500 months (values deterministic)."""
    months = 500
    n = max(1, rows // months) * months
    i = pl.int_range(0, n, dtype=pl.Int64, eager=True)
    series, month = i // months, i % months
    start = pl.select(pl.date(1985, 1, 1).dt.offset_by(pl.format("{}mo", month))).to_series()
    value = (i * 7919 % 10007).cast(pl.Float64) / 100
    if revised_share:
        value = pl.select(pl.when(i % round(1 / revised_share) == 0).then(value + 1).otherwise(value)).to_series()
    return pl.DataFrame(
        {
            "indicator_id": pl.select(pl.format("bench_indicator_{}", series % 10)).to_series(),
            "geo": pl.select(pl.format("G{}", (series // 10).cast(pl.String).str.zfill(4))).to_series(),
            "period_start": start,
            "period_end": start.dt.month_end(),
            "year": start.dt.year().cast(pl.Int32),
            "value": value,
            "unit": "count",
            "qualifier": "exact",
            "is_partial": False,
            "as_of": pl.Series([None] * n, dtype=pl.Date),
            "source_id": SOURCE_ID,
            "method": "parsed",
            "evidence": pl.select(pl.format("row {}", i)).to_series(),
            "note": pl.Series([None] * n, dtype=pl.String),
        }
    )


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def load(settings: Settings, frame: pl.DataFrame, run_id: str) -> tuple[float, float]:
    """Seconds of one pipeline-like load (its transaction; the connection is opened before), and of publishing."""
    with open_writer(settings) as con:
        prepare_warehouse(con, settings, load_catalog(settings.schemas_dir / "indicators.toml"))

        def write() -> None:
            # `series` ranks observations by their source's precedence: the source must exist.
            con.execute("DELETE FROM sources WHERE source_id = ?", [SOURCE_ID])
            con.execute(
                "INSERT INTO sources (source_id, kind, published_precision, sha256, retrieved_at, pipeline, "
                "precedence) VALUES (?, 'observations_long', 'unknown', '-', ?, 'bench', 50)",
                [SOURCE_ID, utc_now()],
            )
            upsert_observations(
                con, frame, pipeline="bench", run_id=run_id, source_ids=[SOURCE_ID], full_snapshot=True, now=utc_now()
            )

        seconds, _ = timed(lambda: write_transaction(con, write, what="bench load"))
        # Readers of a file see the load once it is copied to the published path; a lake publishes nothing.
        published, _ = timed(lambda: publish(con, settings))
    return seconds, published


def read_views(settings: Settings, repeats: int) -> dict[str, float]:
    con = open_reader(settings.read_target)
    try:
        times = {}
        for view in VIEWS:
            samples = []
            for _ in range(repeats):
                # Materialise every column of every row, as a dashboard extract would.
                seconds, _ = timed(lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE _bench AS SELECT * FROM {view}"))
                samples.append(seconds)
            times[view] = statistics.median(samples)
        return times
    finally:
        con.close()


def measure(settings: Settings, frames: dict[str, pl.DataFrame], repeats: int) -> dict[str, float]:
    results = {}
    for step, frame in frames.items():
        results[step], published = load(settings, frame, step)
        results.setdefault("publish for readers (first ingest)", published)
    results.update({f"view {v}": s for v, s in read_views(settings, repeats).items()})
    return results


def fresh_warehouse(settings: Settings, base: Path, schema: str) -> Settings:
    """The same backend, empty: its own file, catalog file, or catalog schema and data folder, under `base`."""
    if settings.lake is None:
        return dataclasses.replace(settings, warehouse=base / "file" / "octracker.duckdb")
    if settings.lake.catalog_kind == "duckdb":
        catalog = base / "local" / "catalog.ducklake"
        lake = dataclasses.replace(settings.lake, catalog=str(catalog), data_path=f"{catalog}.files/")
        return dataclasses.replace(settings, lake=lake, warehouse=catalog)
    lake = dataclasses.replace(settings.lake, metadata_schema=schema, data_path=f"{base}/pg/")
    return dataclasses.replace(settings, lake=lake)


def postgres_reachable() -> bool:
    if not os.environ.get("PGHOST"):
        return False
    try:
        import psycopg

        with psycopg.connect("", connect_timeout=5):
            return True
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL lake this run, and says why
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"PGHOST is set but PostgreSQL cannot be reached ({reason}): the lake with a PostgreSQL catalog is not "
            "measured this run",
            file=sys.stderr,
        )
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="times each view is read (median)")
    parser.add_argument("--runs", type=int, default=1, help="whole measurements per backend, interleaved (median)")
    args = parser.parse_args()

    frames = {
        "ingest (all new)": canonical_frame(args.rows),
        "re-ingest (all unchanged)": canonical_frame(args.rows),
        "ingest with 10% revised": canonical_frame(args.rows, revised_share=0.10),
    }
    rows = frames["ingest (all new)"].height
    with tempfile.TemporaryDirectory(prefix="octracker-lake-bench-") as tmp:
        base = Path(tmp)
        backends = {"file": build_settings(project=ROOT, warehouse=base / "file" / "octracker.duckdb", environ={})}
        backends["lake (local catalog)"] = build_settings(
            project=ROOT, warehouse=f"ducklake:{base}/local/catalog.ducklake", environ={}
        )
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        if postgres_reachable():
            backends["lake (PostgreSQL catalog)"] = build_settings(
                project=ROOT,
                warehouse="ducklake:postgres:",
                environ={**os.environ, "OCTRACKER_LAKE_DATA": str(base / "pg"), "OCTRACKER_LAKE_SCHEMA": schema},
            )
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in backends}
        for run in range(args.runs):
            for name, settings in backends.items():
                print(f"run {run + 1}: measuring {name} ...", file=sys.stderr, flush=True)
                fresh = fresh_warehouse(settings, base / f"run{run}", f"{schema}_{run}")
                samples[name].append(measure(fresh, frames, args.repeats))
        results = {
            name: {step: statistics.median(s[step] for s in runs) for step in runs[0]} for name, runs in samples.items()
        }
        if "lake (PostgreSQL catalog)" in backends:
            import psycopg

            with psycopg.connect("", autocommit=True) as con:
                for run in range(args.runs):
                    con.execute(f'DROP SCHEMA IF EXISTS "{schema}_{run}" CASCADE')

    print(
        f"\n{rows:,} rows, {dt.date.today()}, duckdb {__import__('duckdb').__version__}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} run(s); seconds (ratio to the file)\n"
    )
    names = list(results)
    print("| step | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for step in results["file"]:
        base_s = results["file"][step]
        cells = [
            f"{results[n][step]:.2f}" + ("" if n == "file" else f" ({results[n][step] / base_s:.1f}x)") for n in names
        ]
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

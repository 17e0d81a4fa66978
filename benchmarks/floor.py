"""The floor under targets 1 and 2: what DuckDB alone takes to write the history the contract asks for.

    python -m benchmarks.floor                # the 10M-row tables, 3 runs of each step, interleaved; medians
    python -m benchmarks.floor --repeats 5

`benchmarks.run` measures the engine. This measures no engine: the history's rows are written by DuckDB
alone, straight from the Parquet file, in as few statements as the work allows. No Python stands between the
file and the table, and nothing else runs: no validation, no raw store, no run bookkeeping, no publish.
A design can only add to these statements. So a target they miss cannot be met by moving octracker's work
into DuckDB; it would take a change of what is stored.

Steps, each into a DuckDB file of its own, made by the real migrations in the engine's storage format:

- `bare`: the harness's bare load (`CREATE TABLE AS SELECT` of the file, then `CHECKPOINT`);
- `first_load`: the load's row in `loads`, the table's series in `series_keys`, then one `INSERT ... SELECT` of every
  column of the stored versions as the engine fills it for this table (periods parsed once per distinct value, each
  row's series id joined by its key, its evidence line `<file> row N: <cells>`, its row hash, the load's id), then
  `CHECKPOINT`;
- `first_load_no_evidence`: the same with every evidence line empty, which shows what the evidence costs;
- `revision`: the table with 10 % of its values revised, as a full snapshot, against the first load. Every
  row is hashed and compared with the current versions' hashes in one join. The versions no longer stated
  are closed, and the changed rows are inserted as new versions. Then commit and `CHECKPOINT`;
- `revision_writes`: the revision's writes alone (close, insert, commit, checkpoint), which no design avoids.

Needs the tables of `benchmarks.run` (generated here when missing) and about 1 GB of disk under
`benchmarks/data/floor/` (or `--data DIR`), removed at the end. Writes `benchmarks/data/floor_results.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from benchmarks.dataset import DATA_DIR, MONTHLY, REPO, SIZES, write_tables
from benchmarks.steps import bare_ctas, quiet_duckdb
from octracker.store.settings import build_settings
from octracker.store.warehouse import apply_migrations, open_writer

#: The steps, in the order they run in each repeat.
STEPS = ("bare", "first_load", "first_load_no_evidence", "revision", "revision_writes")
#: The targets of docs/benchmarks.md that these steps bound: step / bare at most this. The benchmark's tables are
#: large enough to cite their rows by reference (`octracker.extract.long_table.REFERENCE_FROM_ROWS`), so
#: `first_load_no_evidence` is the floor under target 1; `first_load` shows what a copy of each line would add.
TARGETS = {"first_load_no_evidence": 2.0, "revision": 1.0}
#: DuckDB's hash() is unsigned; the history keeps row hashes as signed 64-bit integers.
ROW_HASH = "(hash(indicator, geo, period, value, unit)::HUGEINT - 9223372036854775808)::BIGINT"
CELLS = "concat_ws(',', indicator, geo, period, value, unit)"
#: A row's evidence as the engine writes it for a Parquet table: `<file> row N: <cells>`, N counted from 1.
EVIDENCE = f"'{MONTHLY.document} row ' || (r.file_row_number + 1) || ': ' || {CELLS}"


def remove_database(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The file opened as the engine opens its warehouse for writing (a new one in its storage format), migrated."""
    with open_writer(build_settings(project=REPO, warehouse=path, environ={})) as con:
        quiet_duckdb(con)
        apply_migrations(con, REPO / "warehouse" / "migrations")
        yield con


def bare(table: Path, db: Path) -> float:
    remove_database(db)
    return bare_ctas({"db": str(db), "file": str(table)})["seconds"]


def insert_history(rows: str, evidence: str, run_id: str, now: str) -> str:
    """The INSERTs of every history column the engine fills for a table row, for `rows` (cells, `h`, row number): the
    load once in `loads` (its id: the run's number), the series new to `series_keys` numbered in the order the rows
    first state them, then the versions with the load's and their series' ids."""
    load_id = int(run_id.removeprefix("run_"))
    columns = {
        "series_id": "s.series_id",
        "period_start": "p.period_start",
        "period_end": "p.period_end",
        "year": "year(p.period_end)",
        "value": "r.value",
        # The load's usual unit and qualifier (the table's one unit, `count`, and `exact`) are kept in `loads`, a
        # version's only when it differs (migration 0021).
        "unit": "NULLIF(r.unit, 'count')",
        "qualifier": "NULL",
        "is_partial": "false",
        "as_of": "NULL",
        "evidence": evidence,
        "note": "NULL",
        "load_id": str(load_id),
        "valid_to": "NULL",
        "row_hash": "r.h",
    }
    return (
        f"INSERT INTO loads VALUES ({load_id}, '{run_id}', '{MONTHLY.pipeline}', '{MONTHLY.source_id}', 'parsed', "
        f"NULL, TIMESTAMP '{now}', 'count', 'exact');\n"
        "INSERT INTO series_keys SELECT (SELECT COALESCE(MAX(series_id), 0) FROM series_keys) "
        "+ ROW_NUMBER() OVER (ORDER BY first_row), indicator, geo "
        f"FROM (SELECT indicator, geo, MIN(file_row_number) AS first_row FROM {rows} GROUP BY indicator, geo) AS r "
        "WHERE NOT EXISTS (SELECT 1 FROM series_keys AS k WHERE k.indicator_id = r.indicator AND k.geo = r.geo);\n"
        f"INSERT INTO observation_versions ({', '.join(columns)}) SELECT {', '.join(columns.values())} "
        f"FROM {rows} AS r JOIN _periods AS p USING (period) "
        "JOIN (SELECT series_id, indicator_id AS s_indicator, geo AS s_geo FROM series_keys) AS s "
        "ON s.s_indicator = r.indicator AND s.s_geo = r.geo"
    )


def parse_periods(con: duckdb.DuckDBPyConnection, table: Path) -> None:
    """Each distinct `YYYY-MM-DD/YYYY-MM-DD` period parsed once, as the engine's table reader does."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _periods AS SELECT period, "
        "CAST(split_part(period, '/', 1) AS DATE) AS period_start, "
        "CAST(split_part(period, '/', 2) AS DATE) AS period_end "
        "FROM (SELECT DISTINCT period FROM read_parquet(?))",
        [str(table)],
    )


def first_load(table: Path, db: Path, *, with_evidence: bool) -> float:
    remove_database(db)
    rows = f"(SELECT *, {ROW_HASH} AS h FROM read_parquet('{table}', file_row_number = true))"
    with warehouse(db) as con:
        start = time.perf_counter()
        parse_periods(con, table)
        con.execute(insert_history(rows, EVIDENCE if with_evidence else "''", "run_1", "2026-01-01"))
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - start
        written = con.execute("SELECT COUNT(*) FROM observation_versions").fetchone()[0]
    expected = duckdb.execute("SELECT COUNT(*) FROM read_parquet(?)", [str(table)]).fetchone()[0]
    if written != expected:
        raise SystemExit(f"{db}: {written:,} rows written, {expected:,} in {table}")
    return seconds


def revision(loaded: Path, revised: Path, db: Path) -> tuple[float, float, int]:
    """The revised table against a copy of `loaded`: (the whole revision, its writes alone, versions closed)."""
    remove_database(db)
    shutil.copyfile(loaded, db)
    with warehouse(db) as con:
        return _revise(con, revised, db)


def _revise(con: duckdb.DuckDBPyConnection, revised: Path, db: Path) -> tuple[float, float, int]:
    start = time.perf_counter()
    con.execute("BEGIN")
    parse_periods(con, revised)
    # One join finds both sides of the change: rows whose hash no current version has (changed or new) and
    # current versions whose hash no row has (revised or retracted).
    con.execute(
        f"""
        CREATE TEMP TABLE _diff AS
        SELECT i.*, c.row_hash AS gone
        FROM (SELECT *, {ROW_HASH} AS h FROM read_parquet(?, file_row_number = true)) AS i
        FULL JOIN (SELECT row_hash FROM observation_versions
                   WHERE valid_to IS NULL
                     AND load_id IN (SELECT load_id FROM loads WHERE source_id = '{MONTHLY.source_id}')) AS c
          ON i.h = c.row_hash
        WHERE i.h IS NULL OR c.row_hash IS NULL
        """,
        [str(revised)],
    )
    writes = time.perf_counter()
    closed = con.execute(
        f"""
        UPDATE observation_versions SET valid_to = TIMESTAMP '2026-02-01'
        WHERE valid_to IS NULL AND load_id IN (SELECT load_id FROM loads WHERE source_id = '{MONTHLY.source_id}')
          AND row_hash IN (SELECT gone FROM _diff WHERE gone IS NOT NULL)
        """
    ).fetchone()[0]
    changed = "(SELECT * FROM _diff WHERE h IS NOT NULL)"
    con.execute(insert_history(changed, EVIDENCE, "run_2", "2026-02-01"))
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    end = time.perf_counter()
    # Every closed version has its new one: the revised table changes values, never keys.
    current = con.execute("SELECT COUNT(*) FROM observation_versions WHERE valid_to IS NULL").fetchone()[0]
    total = con.execute("SELECT COUNT(*) FROM observation_versions").fetchone()[0]
    if not closed or total != current + closed:
        raise SystemExit(f"{db}: {closed:,} versions closed, {total - current:,} closed in all")
    return end - start, end - writes, closed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each step, interleaved (default 3)")
    parser.add_argument(
        "--size",
        choices=("10m", "1m", "100k"),
        default="10m",
        help="which generated tables (default 10m; 100k is a smoke run)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help="folder of the generated tables, the scratch files and floor_results.json (default benchmarks/data)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    tables = write_tables(SIZES[args.size], args.data)
    work = args.data / "floor"
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    revised: list[int] = []
    try:
        for repeat in range(1, args.repeats + 1):
            times["bare"].append(bare(tables.base, work / "bare.duckdb"))
            times["first_load"].append(first_load(tables.base, work / "first.duckdb", with_evidence=True))
            times["first_load_no_evidence"].append(
                first_load(tables.base, work / "no_evidence.duckdb", with_evidence=False)
            )
            whole, writes, closed = revision(work / "first.duckdb", tables.revised, work / "revision.duckdb")
            times["revision"].append(whole)
            times["revision_writes"].append(writes)
            revised.append(closed)
            print(
                f"run {repeat}/{args.repeats}: "
                + ", ".join(f"{s} {times[s][-1]:.2f} s" for s in STEPS)
                + f" ({closed:,} versions revised)",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {step: statistics.median(values) for step, values in times.items()}
    print(f"\nmedians of {args.repeats} ({args.size} rows), ratio to the bare load:")
    for step in STEPS:
        target = f"   (target <= {TARGETS[step]}x)" if step in TARGETS else ""
        print(f"  {step:<24} {medians[step]:6.2f} s  {medians[step] / medians['bare']:5.2f}x{target}")
    result = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size": args.size,
        "repeats": args.repeats,
        "seconds": times,
        "medians": medians,
        "ratios": {step: medians[step] / medians["bare"] for step in STEPS},
        "versions_revised": revised,
        "duckdb": duckdb.__version__,
        "python": platform.python_version(),
    }
    (args.data / "floor_results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

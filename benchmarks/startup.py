"""Start-up of the read-only commands against Python opening the warehouse with DuckDB, as ratios.

    python -m benchmarks.startup                 # 9 runs of each command, interleaved; medians
    python -m benchmarks.startup --repeats 3

What an analyst or a monitoring job waits for when it runs `octracker alerts --format json`,
`octracker status --json` or `octracker sql QUERY` on the bundled project's warehouse: the whole process,
interpreter start included, from exec to exit. The baseline is the least any Python tool can do for the same
answer: start the interpreter, import duckdb, open the published copy read-only and run one query.
Target: each command at most 2.5 times the baseline's median.

The warehouse is the bundled project refreshed into a temporary folder (a few seconds), so the figures do not
depend on what a developer's own warehouse holds. Writes `benchmarks/data/startup_results.json` (git-ignored), and
with the default number of runs also `benchmarks/latest_startup.json`, the record behind the figures in
docs/benchmarks.md; exit status 1 when a command misses the target.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_FILE = REPO / "benchmarks" / "data" / "startup_results.json"
LATEST_FILE = REPO / "benchmarks" / "latest_startup.json"
DEFAULT_REPEATS = 9
TARGET_RATIO = 2.5
BASELINE = "import sys, duckdb; duckdb.connect(sys.argv[1], read_only=True).execute('{query}').fetchall()"
QUERY = "SELECT COUNT(*) FROM series"
COMMANDS = {
    "alerts --format json": ["alerts", "--format", "json"],
    "status --json": ["status", "--json"],
    "sql": ["sql", QUERY, "--format", "json"],
}


@functools.cache
def compile_sources() -> None:
    """Write the byte code of octracker's own modules, which an installed package has: a development checkout run
    under PYTHONDONTWRITEBYTECODE (as some shells and CI images set it) would otherwise compile every module from
    source in every process timed (0.15-0.3 s of CPU)."""
    compileall.compile_dir(REPO / "src", quiet=1)


def octracker(warehouse: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "octracker", "--project", str(REPO), "--warehouse", str(warehouse), *args]


def wall_seconds(command: list[str]) -> float:
    """One run, exec to exit; a run that fails is an error, not a fast figure."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # status exits 1 when a pipeline failed; the bundled ones do not
        raise SystemExit(f"{' '.join(command[3:])} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def measure(warehouse: Path, repeats: int) -> dict:
    """Medians of interleaved runs (so a busy moment of the machine falls on every command alike)."""
    published = warehouse.parent / "published" / warehouse.name
    load_before = os.getloadavg()[0]
    runs: dict[str, list[float]] = {"baseline": [], **{name: [] for name in COMMANDS}}
    commands = {
        "baseline": [sys.executable, "-c", BASELINE.format(query=QUERY), str(published)],
        **{name: octracker(warehouse, *args) for name, args in COMMANDS.items()},
    }
    compile_sources()
    for command in commands.values():  # warm the file cache once
        wall_seconds(command)
    for _ in range(repeats):
        for name, command in commands.items():
            runs[name].append(wall_seconds(command))
    baseline = statistics.median(runs["baseline"])
    results = {
        name: {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "ratio": round(statistics.median(times) / baseline, 2),
        }
        for name, times in runs.items()
    }
    return {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target_ratio": TARGET_RATIO,
        "repeats": repeats,
        "load_average": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "results": results,
        "met": all(r["ratio"] <= TARGET_RATIO for name, r in results.items() if name != "baseline"),
    }


def refreshed_warehouse(folder: Path) -> Path:
    warehouse = folder / "warehouse" / "octracker.duckdb"
    done = subprocess.run(octracker(warehouse, "--quiet", "refresh"), cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"refresh of the bundled project failed: {done.stderr.strip()}")
    return warehouse


def print_report(report: dict) -> None:
    print(f"{'step':<22} {'median s':>9} {'min s':>7} {'ratio':>6}  (target ≤ {report['target_ratio']}×)")
    for name, r in report["results"].items():
        print(f"{name:<22} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['ratio']:>6.2f}")
    print(
        f"load average before: {report['load_average']}, after: {report['load_average_after']}; "
        f"target {'met' if report['met'] else 'MISSED'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=DEFAULT_REPEATS, help=f"runs of each command (default {DEFAULT_REPEATS})"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="octracker-startup-") as folder:
        report = measure(refreshed_warehouse(Path(folder)), args.repeats)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.repeats == DEFAULT_REPEATS:
        LATEST_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_report(report)
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())

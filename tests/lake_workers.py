"""Processes for the concurrency test: a writer refreshing one pipeline round after round, and a reader
checking every snapshot it sees. Run as `python lake_workers.py writer|reader ...` with the lake's environment."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

#: The NL cocaine trade score and the criminal markets mean that follows it, as the document prints them.
ORIGINAL = ("Cocaine trade\n8.000.50\n", "Criminal markets\n5.330.10\n")
CHANGED = ("Cocaine trade\n8.501.00\n", "Criminal markets\n5.370.13\n")


def write_variant(document: Path, changed: bool) -> None:
    text = document.read_text(encoding="utf-8")
    old, new = (ORIGINAL, CHANGED) if changed else (CHANGED, ORIGINAL)
    for before, after in zip(old, new):
        text = text.replace(before, after, 1)
    document.write_text(text, encoding="utf-8")


def run_writer(project: str, pipeline: str, document: str, rounds: int) -> None:
    from octracker.load.pipeline import refresh
    from octracker.store.settings import build_settings

    settings = build_settings(project=project, warehouse="ducklake:postgres:")
    for round_no in range(rounds):
        write_variant(Path(document), changed=round_no % 2 == 1)
        (result,) = refresh(settings, [pipeline], trigger="test")
        print(
            json.dumps(
                {
                    "round": round_no,
                    "status": result.status,
                    "new": result.counts.new,
                    "revised": result.counts.revised,
                    "unchanged": result.counts.unchanged,
                    "error": result.error,
                }
            ),
            flush=True,
        )


#: Each returns the rows that break an invariant in one snapshot; none may ever return a row.
SNAPSHOT_CHECKS = {
    "two current versions of one observation": (
        "SELECT indicator_id, geo, period_start, period_end, source_id FROM observation_history "
        "WHERE valid_to IS NULL GROUP BY ALL HAVING COUNT(*) > 1"
    ),
    "a source partly loaded (a commit seen in part)": (
        "SELECT source_id, COUNT(*) FROM observations GROUP BY source_id HAVING COUNT(*) NOT IN (144)"
    ),
    "series disagrees with observations": (
        "SELECT 'series' AS what, COUNT(*) FROM series HAVING COUNT(*) <> (SELECT COUNT(*) FROM "
        "(SELECT DISTINCT indicator_id, geo, period_start, period_end FROM observations "
        "WHERE period_start IS NOT NULL))"
    ),
    "a series value no current observation states": (
        "SELECT s.* FROM series s ANTI JOIN observations o USING (indicator_id, geo, period_start, period_end, "
        "source_id, value)"
    ),
}


def run_reader(stop_file: str) -> None:
    from octracker.errors import OctrackerError
    from octracker.store.settings import build_settings
    from octracker.store.warehouse import open_reader

    settings = build_settings(warehouse="ducklake:postgres:")
    snapshots = 0
    violations: list[str] = []
    while not os.path.exists(stop_file):
        try:
            con = open_reader(settings.lake)
        except OctrackerError:
            # The first writer has not created the lake yet.
            time.sleep(0.2)
            continue
        try:
            con.execute("BEGIN TRANSACTION")  # one snapshot for all the checks
            tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
            if {"observation_versions", "loads", "sources"} <= tables and {"observation_history", "series"} <= views:
                for name, sql in SNAPSHOT_CHECKS.items():
                    rows = con.execute(sql).fetchall()
                    if rows:
                        violations.append(f"{name}: {rows[:3]}")
                snapshots += 1
            con.execute("COMMIT")
        finally:
            con.close()
        time.sleep(0.05)
    print(json.dumps({"snapshots": snapshots, "violations": violations}), flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "writer":
        run_writer(args[0], args[1], args[2], int(args[3]))
    else:
        run_reader(args[0])

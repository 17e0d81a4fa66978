"""The floor benchmark (`python -m benchmarks.floor`) still runs against the warehouse's current migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]


def test_the_floor_benchmark_writes_every_row_and_the_revision_closes_a_tenth_of_them(tmp_path):
    # The smoke size: 200 series x 500 months, of which the revised table changes a tenth of the values.
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", "--size", "100k", "--repeats", "1", "--data", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # it exits non-zero when a step wrote other rows than the file's
    result = json.loads((tmp_path / "floor_results.json").read_text())
    assert set(result["medians"]) == {"bare", "first_load", "first_load_no_evidence", "revision", "revision_writes"}
    assert "ratio to the bare load" in done.stdout
    # The revision closed one version for each value the revised table changed, and no other.
    tables = tmp_path / "tables"
    base, revised = (pl.read_parquet(tables / f"long_100k{suffix}.parquet") for suffix in ("", "_revised"))
    changed = int((base["value"] != revised["value"]).sum())
    assert 9_000 < changed < 11_000
    assert result["versions_revised"] == [changed]
    # The scratch warehouses are removed; the generated tables stay for the next run.
    assert not (tmp_path / "floor").exists()

"""The floor benchmark (`python -m benchmarks.floor`) still runs against the warehouse's current migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_floor_benchmark_writes_every_row_and_the_revision_closes_a_tenth_of_them(tmp_path):
    # The smoke size: 200 series x 500 months; the revised table changes a tenth of the values.
    done = subprocess.run([sys.executable, "-m", "benchmarks.floor", "--size", "100k", "--repeats", "1",
                           "--data", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "floor_results.json").read_text())
    assert set(result["medians"]) == {"bare", "first_load", "first_load_no_evidence", "revision", "revision_writes"}
    assert all(seconds > 0 for seconds in result["medians"].values())
    assert result["medians"]["revision_writes"] < result["medians"]["revision"]
    [revised] = result["versions_revised"]
    assert 9_000 < revised < 11_000
    assert "ratio to the bare load" in done.stdout
    # The scratch warehouses are removed; the generated tables stay for the next run.
    assert not (tmp_path / "floor").exists()
    assert (tmp_path / "tables" / "long_100k.parquet").exists()

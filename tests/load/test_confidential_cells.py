"""Confidential cells as Eurostat published them are never loaded as values: Comext's `":C"` among the numbers."""

from __future__ import annotations

import json

from conftest import query, run_cli
from publisher_cases import EUROSTAT

COMEXT = EUROSTAT / "comext" / "ds-059358-de-2022.json"


def test_comext_confidential_cells_are_left_out_and_the_numbers_loaded(scratch_project):
    done = run_cli(scratch_project, "ingest", str(COMEXT), "--kind", "jsonstat")
    assert done.exit_code == 0, done.output
    body = json.loads(COMEXT.read_bytes())
    numbers = sorted(v for v in body["value"].values() if isinstance(v, (int, float)))
    assert len(numbers) < len(body["value"])  # the recorded answer does mix ":C" and text with its numbers
    loaded = query(
        scratch_project,
        "SELECT value, flags FROM observation_history WHERE source_id LIKE 'estat-%' ORDER BY value",
    )
    assert [v for v, _ in loaded] == numbers
    assert all(f is None or "c" not in f for _, f in loaded)

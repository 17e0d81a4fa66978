"""Confidential cells as Eurostat publishes them are never loaded as values: Comext's `":C"` among the numbers
(JSON-stat, as recorded), and an SDMX-CSV cell with `CONF_STATUS` C and no `OBS_VALUE` (a variant of a recording)."""

from __future__ import annotations

import json

import pytest

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


SDG = EUROSTAT / "sdg_04_20.csv"


@pytest.mark.parametrize("status", ["C", "C:Confidential statistical information"])
def test_an_sdmx_csv_cell_confidential_with_no_value_is_not_loaded(scratch_project, tmp_path, status):
    """A variant of the recorded sdg_04_20 download (whose CONF_STATUS column is empty throughout): Belgium's
    2015 total made confidential as Eurostat writes such a cell, OBS_VALUE empty and CONF_STATUS `C` (in a
    download with codes and labels, `C:Confidential statistical information`). Every other row loads; that one
    is no value at all (not a 0), and the file is not refused for it."""
    lines = SDG.read_text(encoding="utf-8").splitlines(keepends=True)
    target = next(
        i
        for i, line in enumerate(lines)
        if line.split(",")[3:8]
        == ["Total", "From 25 to 34 years", "Percentage", "Tertiary education (levels 5-8)", "Belgium"]
        and line.split(",")[8] == "2015"
    )
    cells = lines[target].rstrip("\r\n").split(",")
    assert cells[9] and not cells[11]  # as recorded: a value, no confidentiality status
    cells[9], cells[10], cells[11] = "", "", status
    lines[target] = ",".join(cells) + "\n"
    variant = tmp_path / "sdg_04_20.csv"
    variant.write_text("".join(lines), encoding="utf-8")
    done = run_cli(scratch_project, "ingest", str(variant), "--kind", "sdmx_csv")
    assert done.exit_code == 0, done.output
    total = "estat.sdg_04_20.annual.total.from_25_to_34_years.percentage.tertiary_education_levels_5_8"
    assert query(
        scratch_project,
        "SELECT year FROM observation_history WHERE indicator_id = ? AND geo = 'BE' AND year BETWEEN 2014 AND 2016 "
        "ORDER BY year",
        [total],
    ) == [(2014,), (2016,)]
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history WHERE source_id = 'estat-sdg_04_20'") == [
        (len(lines) - 2,)
    ]

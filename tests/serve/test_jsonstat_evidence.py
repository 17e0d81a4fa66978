"""A large JSON-stat body cites each value by its cell (file, sha256, the cell's flat index), and `octracker evidence`
and the report print that cell as a small body's evidence reads it.

The bodies are Eurostat's recorded answers (tests/cases/publishers/eurostat/); a large body is one of at least
REFERENCE_FROM_ROWS values, lowered here so that a recorded answer counts as large.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import query, run_cli
from octracker.content.catalog import load_catalog
from octracker.extract import long_table
from octracker.extract.publishers import jsonstat
from octracker.extract.publishers.canonical import publisher_extract
from octracker.serve.evidence import with_cited_rows
from publisher_cases import EUROSTAT

UNE_RT_M = EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json"
#: Comext: numbers and strings (`":C"`, `"KG"`) in `value`, keys unsorted: read cell by cell.
COMEXT = EUROSTAT / "comext" / "ds-059358-de-2022.json"
CATALOG = Path(__file__).resolve().parents[2] / "schemas" / "indicators.toml"


@pytest.fixture
def large(monkeypatch):
    """Every body counts as large: its values are cited by reference."""
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)


def inline_evidence(content: bytes, name: str, source_id: str) -> dict[tuple[str, str, str], str]:
    """The evidence a small body's values carry, by (indicator, geo, period start)."""
    frame = publisher_extract(
        jsonstat.read(content, name=name), source_id=source_id, catalog=load_catalog(CATALOG), document=None
    ).frame
    assert frame.get_column("_evidence_row").is_null().all()
    return {
        (ind, geo, str(start)): text
        for ind, geo, start, text in frame.select("indicator_id", "geo", "period_start", "evidence").iter_rows()
    }


def evidence_lines(settings, *args: str) -> list[list[str]]:
    """`octracker evidence ARGS` as printed: one list of lines per value."""
    out = run_cli(settings, "evidence", *args)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    return [lines[i : i + 3] for i in range(0, len(lines), 3)]


@pytest.mark.parametrize("body", [UNE_RT_M, COMEXT], ids=["une_rt_m", "comext"])
def test_a_large_body_cites_its_cells_and_evidence_prints_what_a_small_body_states(
    scratch_project, tmp_path, large, body
):
    path = tmp_path / body.name
    shutil.copyfile(body, path)
    content = path.read_bytes()
    sha = hashlib.sha256(content).hexdigest()
    done = run_cli(scratch_project, "ingest", str(path))
    assert done.exit_code == 0, done.output
    stored = query(
        scratch_project,
        "SELECT indicator_id, geo, period_start::VARCHAR, source_id, evidence, evidence_row FROM observation_history "
        "WHERE valid_to IS NULL ORDER BY evidence_row, indicator_id",
    )
    assert stored and {r[4] for r in stored} == {f"{path.name} (sha256 {sha}) cell"}
    [source] = {r[3] for r in stored}
    # Each value cites the cell it was read from: the key of `value` in the body.
    published = json.loads(content)["value"]
    cells = {int(k): v for k, v in published.items() if isinstance(v, (int, float))}
    assert {r[5] for r in stored} == set(cells)

    inline = inline_evidence(content, path.name, source)
    printed = evidence_lines(scratch_project, "--source", source)
    assert len(printed) == len(stored)
    by_key = {(r[0], r[1], r[2]): r for r in stored}
    for (indicator, geo, start), text in inline.items():
        cell = by_key[(indicator, geo, start)][5]
        [value] = [p for p in printed if p[0].startswith(f"{indicator}  {geo}  ") and p[1].endswith(f" cell {cell}")]
        assert value[1:] == [f"  cited: {path.name} (sha256 {sha}) cell {cell}", f"  {text}"]
        assert f" = {cells[cell]}" in text or f" = {float(cells[cell])}" in text

    # The first cell with a value, asked for by its index, as the report shows it too.
    first = min(cells)
    [(header, cited, line)] = evidence_lines(scratch_project, "--source", source, "--row", str(first))
    assert cited == f"  cited: {path.name} (sha256 {sha}) cell {first}"
    reference = f"{path.name} (sha256 {sha}) cell {first}"
    assert with_cited_rows(scratch_project.raw_dir, [(reference, source)]) == {
        (reference, source): f"{line.strip()} ({reference})"
    }


def test_a_new_vintage_with_one_cell_changed_revises_that_value_alone(scratch_project, tmp_path, large):
    first = tmp_path / "une_rt_m.json"
    shutil.copyfile(UNE_RT_M, first)
    assert run_cli(scratch_project, "ingest", str(first)).exit_code == 0
    # The next vintage: Eurostat revises the last month, 4.0 -> 4.1, and says when.
    body = json.loads(UNE_RT_M.read_bytes())
    assert body["value"]["30"] == 4.0
    body["value"]["30"] = 4.1
    body["updated"] = "2026-10-22T11:00:00+0200"
    second = tmp_path / "une_rt_m_2026-10.json"
    second.write_text(json.dumps(body), encoding="utf-8")
    done = run_cli(scratch_project, "ingest", str(second))
    assert done.exit_code == 0, done.output

    [(new, revised, unchanged)] = query(
        scratch_project, "SELECT rows_new, rows_revised, rows_unchanged FROM runs ORDER BY started_at DESC LIMIT 1"
    )
    assert (new, revised, unchanged) == (0, 1, 30)
    changed = query(scratch_project, "SELECT change, period_start::VARCHAR, old_value, new_value FROM changes")
    assert [c for c in changed if c[0] != "new"] == [("revised", "2026-07-01", 4.0, 4.1)]

    # The revised value cites the new vintage's cell; the others still cite the first vintage, which says the same.
    sha_first = hashlib.sha256(first.read_bytes()).hexdigest()
    sha_second = hashlib.sha256(second.read_bytes()).hexdigest()
    cites = dict(
        query(
            scratch_project,
            "SELECT period_start::VARCHAR, evidence FROM observations WHERE indicator_id LIKE 'estat.une_rt_m.%'",
        )
    )
    assert cites.pop("2026-07-01") == f"{second.name} (sha256 {sha_second}) cell 30"
    assert set(cites.values()) == {f"{first.name} (sha256 {sha_first}) cell {n}" for n in range(30)}
    [(_, _, line)] = evidence_lines(scratch_project, "--source", "estat-une_rt_m", "--period", "2026-07-01/2026-07-31")
    assert line == "  estat-une_rt_m: estat.une_rt_m.m.sa.total.pc_act.t, DE, 2026-07 = 4.1"


def test_a_small_body_keeps_each_values_text(tmp_path):
    table = jsonstat.read(UNE_RT_M.read_bytes(), name=UNE_RT_M.name)
    frame = publisher_extract(
        table, source_id="estat-une_rt_m", catalog=load_catalog(CATALOG), document=(UNE_RT_M.name, "0" * 64)
    ).frame
    assert frame.height == 31 and frame.get_column("_evidence_row").is_null().all()
    series = "estat.une_rt_m.m.sa.total.pc_act.t"
    assert frame.get_column("evidence").str.starts_with(f"estat-une_rt_m: {series}, DE, ").all()

"""A large table's rows cited by reference (file, sha256, row number) and printed by `octracker evidence`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from conftest import run_cli
from octracker.extract import long_table
from octracker.load.pipeline import refresh
from published import read_rows

CASES = Path(__file__).resolve().parents[1] / "cases" / "inbox"
POLICE = 'publisher = "Brussels police statistics (test)"\n'
FIRST = CASES / "shootings_2024_final.csv"
WORKBOOK = Path(__file__).resolve().parents[2] / "pipelines" / "documents" / "global_oc_index.xlsx"


@pytest.fixture
def by_reference(monkeypatch):
    """Every table counts as large: its rows are cited by reference."""
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)


def drop(settings, name: str, content: bytes) -> str:
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / name).write_bytes(content)
    (settings.inbox_dir / f"{name}.meta.toml").write_text(POLICE)
    return hashlib.sha256(content).hexdigest()


def parquet_of(tmp_path: Path, csv_text: str, name: str) -> bytes:
    source, target = tmp_path / f"{name}.csv", tmp_path / name
    source.write_text(csv_text)
    pl.read_csv(source, infer_schema=False).write_parquet(target)
    return target.read_bytes()


def the_source(settings) -> str:
    [(source,)] = read_rows(settings.published_path, "SELECT DISTINCT source_id FROM observations")
    return source


def evidence_of(settings, year: int) -> str:
    [(text,)] = read_rows(
        settings.published_path,
        "SELECT evidence FROM observations WHERE indicator_id = 'shootings' AND year = ?",
        [year],
    )
    return text


def test_a_large_parquet_row_is_cited_by_reference_and_printed_as_a_full_read_quotes_it(
    settings, tmp_path, monkeypatch
):
    content = parquet_of(tmp_path, FIRST.read_text(), "final.parquet")
    sha = drop(settings, "final.parquet", content)
    refresh(settings, ["inbox"])
    quoted = evidence_of(settings, 2024)  # a small table: the row itself
    assert quoted == "final.parquet row 2: shootings,BE-BRU,2024,92,count,exact,,,final"

    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    settings.warehouse.unlink()
    shutil.rmtree(settings.published_path.parent)
    drop(settings, "final.parquet", content)
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 3), result.error
    assert evidence_of(settings, 2024) == f"final.parquet (sha256 {sha}) row 2"
    out = run_cli(settings, "evidence", "--indicator", "shootings", "--geo", "be-bru", "--period", "2024")
    assert out.exit_code == 1  # geo codes are matched as written: nothing for lower case
    out = run_cli(settings, "evidence", "--indicator", "shootings", "--geo", "BE-BRU", "--period", "2024")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        f"shootings  BE-BRU  2024  92  (source {the_source(settings)})",
        f"  cited: final.parquet (sha256 {sha}) row 2",
        "  " + quoted.removeprefix("final.parquet row 2: "),
    ]
    by_row = run_cli(settings, "evidence", "--source", the_source(settings), "--row", "3")
    assert by_row.exit_code == 0, by_row.output
    assert "shooting_deaths,BE-BRU,2024,9,count,exact,,,final" in by_row.output


def test_a_csv_record_over_two_lines_is_printed_whole(settings, by_reference):
    text = FIRST.read_text().replace(",,,final\n", ',,,"final,\nchecked"\n', 1)
    sha = drop(settings, "final.csv", text.encode())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    assert evidence_of(settings, 2024) == f"final.csv (sha256 {sha}) line 3"
    deaths = run_cli(settings, "evidence", "--indicator", "shooting_deaths", "--period", "2024")
    assert deaths.output.splitlines()[-1] == "  shooting_deaths,BE-BRU,2024,9,count,exact,,,final"
    out = run_cli(settings, "evidence", "--source", the_source(settings), "--row", "3")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-2:] == ['  shootings,BE-BRU,2024,92,count,exact,,,"final,', 'checked"']


def test_a_value_restated_in_a_new_edition_keeps_citing_the_row_that_first_stated_it(settings, by_reference):
    first = drop(settings, "shootings.csv", FIRST.read_bytes())
    refresh(settings, ["inbox"])
    revised = FIRST.read_text().replace("BE-BRU,2024,92,", "BE-BRU,2024,95,")
    # The corrected row moved up: every row is in another place in the new edition.
    lines = revised.splitlines(keepends=True)
    second = drop(settings, "shootings.csv", (lines[0] + lines[2] + lines[1] + lines[3]).encode())
    [result] = refresh(settings, ["inbox"])
    assert (result.counts.new, result.counts.revised, result.counts.unchanged) == (0, 1, 2), result.error
    assert evidence_of(settings, 2023) == f"shootings.csv (sha256 {first}) line 2"
    assert evidence_of(settings, 2024) == f"shootings.csv (sha256 {second}) line 2"
    out = run_cli(settings, "evidence", "--indicator", "shootings", "--geo", "BE-BRU")
    assert out.exit_code == 0, out.output
    assert "  shootings,BE-BRU,2023,61,count,exact,,," in out.output.splitlines()
    assert "  shootings,BE-BRU,2024,95,count,exact,,,final" in out.output.splitlines()
    # The history keeps the first edition's version of the revised value, closed, citing its own row.
    [(old,)] = read_rows(
        settings.published_path,
        "SELECT evidence || ' ' || evidence_row FROM observation_history "
        "WHERE indicator_id = 'shootings' AND year = 2024 AND valid_to IS NOT NULL",
    )
    assert old == f"shootings.csv (sha256 {first}) line 3"


def test_a_bad_row_of_a_large_parquet_table_is_quarantined_with_its_text(settings, tmp_path, by_reference):
    bad = FIRST.read_text().replace("BE-BRU,2023,61,", "BE-BRU,2023,sixty,")
    drop(settings, "bad.parquet", parquet_of(tmp_path, bad, "bad.parquet"))
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused"
    rows = read_rows(settings.published_path, "SELECT line_no, payload FROM quarantine WHERE check_name = 'bad_number'")
    assert rows == [(1, "shootings,BE-BRU,2023,sixty,count,exact,,,")]


def test_evidence_says_what_is_missing(settings, by_reference):
    sha = drop(settings, "shootings.csv", FIRST.read_bytes())
    refresh(settings, ["inbox"])
    assert run_cli(settings, "evidence", "--row", "2").exit_code == 2
    assert run_cli(settings, "evidence").exit_code == 2
    for kept in settings.raw_dir.glob(f"*/{sha}*"):
        kept.unlink()
    out = run_cli(settings, "evidence", "--source", the_source(settings), "--row", "2")
    assert out.exit_code == 1
    assert f"holds no document with sha256 {sha}" in out.output


def test_the_report_quotes_the_cited_row(settings, tmp_path, by_reference):
    sha = drop(settings, "shootings.csv", FIRST.read_bytes())
    refresh(settings, ["inbox"])
    out = run_cli(settings, "report", "--out", str(tmp_path / "report"))
    assert out.exit_code == 0, out.output
    page = (tmp_path / "report" / "index.html").read_text()
    assert f"shootings,BE-BRU,2024,92,count,exact,,,final (shootings.csv (sha256 {sha}) line 3)" in page


def test_a_value_of_the_index_workbook_names_the_sheet_and_row_it_was_read_from(settings):
    """The workbook has a sheet per edition, 193 rows and 30-odd columns each: the codes alone do not say where."""
    refresh(settings, ["oci_workbook"])
    workbook = openpyxl.load_workbook(WORKBOOK, read_only=True, data_only=True)
    try:
        # Found independently of the reader: the Excel row where each edition's sheet names Belgium.
        rows = {
            sheet: 1 + next(n for n, row in enumerate(workbook[sheet].iter_rows(values_only=True)) if "Belgium" in row)
            for sheet in ("2021_dataset", "2023_dataset")
        }
    finally:
        workbook.close()
    result = run_cli(settings, "evidence", "--indicator", "oci.criminality", "--geo", "BE")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1::2] == [
        f"  gitoc-global-oc-index-2023: oci.criminality, BE, {year} = {score} (sheet {year}_dataset, "
        f"row {rows[f'{year}_dataset']})"
        for year, score in ((2021, 4.34), (2023, 4.43))
    ]

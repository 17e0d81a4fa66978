"""The GI-TOC index workbook reader, on the recorded workbook and workbooks built from its sheets."""

from __future__ import annotations

import io
import time
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from conftest import updating_goldens
from octracker.content.catalog import Catalog, load_catalog
from octracker.extract.publishers import oci_workbook
from octracker.extract.publishers.table import PUBLISHER_SCHEMA

ROOT = Path(__file__).resolve().parents[3]
WORKBOOK = ROOT / "tests" / "cases" / "publishers" / "global-oc-index" / "global_oc_index.xlsx"
GOLDEN = ROOT / "tests" / "golden" / "publishers" / "oci_workbook_be_nl.csv"
#: Indicators the 2021 edition did not score (no column in its sheet).
NEW_IN_2023 = {
    "oci.cyber_dependent_crimes",
    "oci.financial_crimes",
    "oci.trade_in_counterfeit_goods",
    "oci.illicit_trade_in_excisable_goods",
    "oci.extortion_and_protection_racketeering",
    "oci.private_sector_actors",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "schemas" / "indicators.toml")


@pytest.fixture(scope="module")
def table(catalog):
    return oci_workbook.read(WORKBOOK.read_bytes(), name=WORKBOOK.name, catalog=catalog)


@pytest.fixture(scope="module")
def sheets() -> dict[str, list[list]]:
    """Each sheet's rows as openpyxl reads them, independently of the reader."""
    workbook = openpyxl.load_workbook(WORKBOOK, read_only=True, data_only=True)
    try:
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}
    finally:
        workbook.close()


def build(sheets: dict[str, list[list]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def row_of(rows: list[list], country: str) -> int:
    return next(i for i, r in enumerate(rows) if r[2] == country)


# The recorded workbook ---------------------------------------------------------------------------------------


def test_every_edition_sheet_is_read_for_every_country(table) -> None:
    assert table.problems == [] and table.left_out == []
    assert table.title == "GLOBAL ORGANIZED CRIME INDEX - 2023"
    assert table.frame.schema == pl.Schema(PUBLISHER_SCHEMA)
    counts = (
        table.frame.group_by("year")
        .agg(rows=pl.len(), geos=pl.col("geo").n_unique(), indicators=pl.col("native_id").n_unique())
        .sort("year")
    )
    assert counts.rows() == [(2021, 193 * 30, 193, 30), (2023, 193 * 36, 193, 36)]
    by_year = {y: set(g["geo"]) for (y,), g in table.frame.group_by("year")}
    assert by_year[2021] == by_year[2023]
    assert {"BE", "NL", "KN", "LC", "VC", "CD", "CG", "KR", "KP"} <= by_year[2023]


def test_indicators_an_edition_did_not_score_are_absent_not_zero(table) -> None:
    ids_2021 = set(table.frame.filter(pl.col("year") == 2021)["native_id"])
    ids_2023 = set(table.frame.filter(pl.col("year") == 2023)["native_id"])
    assert ids_2023 - ids_2021 == NEW_IN_2023
    assert table.frame["value"].min() >= 1


def test_header_variants_name_the_same_indicators(table, catalog) -> None:
    # 2023 writes "Criminality avg,", 2021 "Criminality": both are oci.criminality, as in the catalog.
    be = table.frame.filter((pl.col("geo") == "BE") & (pl.col("native_id") == "oci.criminality"))
    assert be.sort("year").select("year", "value").rows() == [(2021, 4.34), (2023, 4.43)]
    assert set(table.frame["native_id"]) <= {i.id for i in catalog.with_prefix("oci.")}


def test_scores_stored_with_float_noise_read_as_the_index_prints_them(table) -> None:
    # Cell D14 of the 2023 sheet is stored as 4.4000000000000004 (Criminality avg of row 14).
    row = table.frame.filter(
        (pl.col("year") == 2023) & (pl.col("_line_no") == 14) & (pl.col("native_id") == "oci.criminality")
    )
    assert row["value"].to_list() == [4.4]


def test_belgium_and_the_netherlands_match_the_golden_file(table) -> None:
    got = table.frame.filter(pl.col("geo").is_in(["BE", "NL"])).sort("year", "geo", "native_id")
    if updating_goldens():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        got.write_csv(GOLDEN)
    assert_frame_equal(got, pl.read_csv(GOLDEN, schema=PUBLISHER_SCHEMA))
    assert got.height == 2 * (30 + 36)


def test_golden_file_agrees_with_the_sheets_read_by_openpyxl(sheets) -> None:
    golden = pl.read_csv(GOLDEN, schema=PUBLISHER_SCHEMA)
    checked = 0
    for year in (2021, 2023):
        rows = sheets[f"{year}_dataset"]
        for country, geo in (("Belgium", "BE"), ("Netherlands", "NL")):
            at = row_of(rows, country)
            printed = sorted(round(v, 2) for v in rows[at][3:] if v is not None)
            got = golden.filter((pl.col("year") == year) & (pl.col("geo") == geo))
            assert sorted(got["value"]) == printed
            assert set(got["_line_no"]) == {at + 1}
            checked += len(printed)
    assert checked == golden.height


def test_the_whole_workbook_reads_in_well_under_a_second(catalog) -> None:
    content = WORKBOOK.read_bytes()
    # The process's CPU time, not the clock's: other processes on a loaded machine do not count.
    started = time.process_time()
    oci_workbook.read(content, name=WORKBOOK.name, catalog=catalog)
    # 0.1-0.4 s measured on a shared 2-core machine; the bound leaves room for a slower one.
    assert time.process_time() - started < 3


# Workbooks built from the recorded sheets ----------------------------------------------------------------------


def test_a_2025_sheet_is_read_as_a_third_edition_with_its_own_header_spellings(sheets, catalog) -> None:
    rows_2025 = [list(r) for r in sheets["2023_dataset"]]
    rows_2025[0] = [h.replace("avg,", "avg.") if isinstance(h, str) else h for h in rows_2025[0]]
    drop = rows_2025[0].index("Financial crimes")
    rows_2025 = [r[:drop] + r[drop + 1 :] for r in rows_2025]
    be = row_of(rows_2025, "Belgium")
    rows_2025[be][3] = 4.433333333
    content = build(
        {"2021_dataset": sheets["2021_dataset"], "2023_dataset": sheets["2023_dataset"], "2025_dataset": rows_2025}
    )
    table = oci_workbook.read(content, name="three.xlsx", catalog=catalog)
    assert table.problems == []
    assert sorted(table.frame["year"].unique()) == [2021, 2023, 2025]
    latest = table.frame.filter((pl.col("year") == 2025) & (pl.col("geo") == "BE"))
    assert latest.height == 35 and "oci.financial_crimes" not in set(latest["native_id"])
    assert latest.filter(pl.col("native_id") == "oci.criminality")["value"].to_list() == [4.43]
    assert table.title is None  # no cover sheet


def test_cells_without_a_score_stay_absent_and_bad_ones_refuse_the_file(sheets, catalog) -> None:
    rows = [list(r) for r in sheets["2023_dataset"]]
    be, nl = row_of(rows, "Belgium"), row_of(rows, "Netherlands")
    rows[be][13], rows[nl][13] = "n/a", None
    table = oci_workbook.read(build({"2023_dataset": rows}), name="gaps.xlsx", catalog=catalog)
    assert table.problems == []
    assert table.frame.filter(pl.col("geo").is_in(["BE", "NL"])).height == 2 * 35
    rows[be][13], rows[nl][14] = "high", 11
    problems = oci_workbook.read(build({"2023_dataset": rows}), name="bad.xlsx", catalog=catalog).problems
    assert [(p.check, p.line_no) for p in problems] == [("bad_number", be + 1), ("out_of_range", nl + 1)]
    assert problems[0].message.startswith(f"bad.xlsx, sheet '2023_dataset' row {be + 1}: Belgium, Cannabis trade")


def test_unknown_countries_columns_and_repeated_rows_refuse_the_file(sheets, catalog) -> None:
    rows = [list(r) for r in sheets["2021_dataset"]]
    be = row_of(rows, "Belgium")
    rows[be][2] = "Atlantis"
    rows.append(list(rows[row_of(rows, "Netherlands")]))
    rows[0][5] = "Human trafficking and smuggling"
    problems = oci_workbook.read(build({"2021_dataset": rows}), name="odd.xlsx", catalog=catalog).problems
    assert [p.check for p in problems] == ["unknown_column", "unknown_country", "duplicate_key"]
    assert "WORKBOOK_COUNTRY_NAMES" in problems[1].message and problems[1].line_no == be + 1
    assert "Human trafficking and smuggling" in problems[0].message


def test_a_workbook_without_edition_sheets_is_refused(sheets, catalog) -> None:
    content = build({"2023_Global_OC_Index": sheets["2023_Global_OC_Index"]})
    [problem] = oci_workbook.read(content, name="cover.xlsx", catalog=catalog).problems
    assert problem.check == "missing_sheet" and "2023_dataset" in problem.message

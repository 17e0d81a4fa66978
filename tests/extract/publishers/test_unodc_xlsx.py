"""The UNODC data portal export reader, on the recorded export and small workbooks built from its rows."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from conftest import updating_goldens
from octracker.extract.publishers import unodc_xlsx
from octracker.extract.publishers.table import PUBLISHER_SCHEMA
from octracker.extract.publishers.workbooks import open_workbook
from octracker.extracts import Problem

ROOT = Path(__file__).resolve().parents[3]
EXPORT = ROOT / "tests" / "cases" / "publishers" / "unodc" / "data_cts_violent_and_sexual_crime.xlsx"
GOLDEN = ROOT / "tests" / "golden" / "publishers" / "unodc_be_nl.csv"
SERIOUS_ASSAULT = "unodc.violent_offences.by_type_of_offence.serious_assault.total.total.counts"


@pytest.fixture(scope="module")
def table() -> unodc_xlsx.PublisherTable:
    return unodc_xlsx.read(EXPORT.read_bytes(), name=EXPORT.name)


@pytest.fixture(scope="module")
def export_rows() -> list[tuple]:
    """The export's rows as openpyxl reads them, independently of the reader (row 1 is the title row)."""
    workbook = openpyxl.load_workbook(EXPORT, read_only=True, data_only=True)
    try:
        return list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()


def small_export(export_rows: list[tuple], rows: list[tuple]) -> bytes:
    """A workbook with the export's three head rows and the given data rows (13 cells each)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [*export_rows[:3], *rows]:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def belgian_rows(export_rows: list[tuple], n: int) -> list[list]:
    return [list(r) for r in export_rows[3:] if r[0] == "BEL"][:n]


# The recorded export ----------------------------------------------------------------------------------------


def test_the_export_is_read_whole_with_its_release_date(table) -> None:
    assert table.problems == []
    assert table.updated == dt.datetime(2024, 5, 16, tzinfo=dt.UTC)
    assert table.title == "UNODC"
    assert table.frame.schema == pl.Schema(PUBLISHER_SCHEMA)
    # 26,114 published rows: 450 for areas with no ISO code are left out, each with its reason.
    assert table.frame.height == 26_114 - 450
    assert table.frame["value"].null_count() == 0
    assert set(table.frame["qualifier"].unique()) == {"exact"}


def test_areas_without_an_iso_code_are_left_out_with_their_reason_and_uk_nations_mapped(table) -> None:
    left = Counter(p.payload.split(",", 1)[0] for p in table.left_out)
    assert left == {"GBR_E_W": 210, "XKX": 172, "IRQ_C": 68}
    kosovo = next(p for p in table.left_out if p.payload.startswith("XKX"))
    assert "Kosovo" in kosovo.message and "no ISO 3166-1 code" in kosovo.message
    assert kosovo.line_no is not None and kosovo.message.startswith(f"{EXPORT.name}: row {kosovo.line_no}:")
    geos = Counter(table.frame["geo"].to_list())
    assert geos["GB-NIR"] == 242 and geos["GB-SCT"] == 210
    assert "GB" not in geos and "IQ" not in geos


def test_native_ids_are_the_labels_in_snake_case_in_the_exports_order(table) -> None:
    be = table.frame.filter((pl.col("geo") == "BE") & (pl.col("year") == 2003))
    assert be.filter(pl.col("native_id") == SERIOUS_ASSAULT)["value"].to_list() == [61959.0]
    ids = set(table.frame["native_id"])
    assert (
        "unodc.victims_of_sexual_violence.by_relationship_to_perpetrator.intimate_partner_or_family_member"
        ".female.total.rate_per_100_000_population"
    ) in ids
    assert all(i == i.lower() and i.count(".") == 6 for i in ids)


def test_belgium_and_the_netherlands_match_the_golden_file(table) -> None:
    got = table.frame.filter(pl.col("geo").is_in(["BE", "NL"])).sort("_line_no")
    if updating_goldens():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        got.write_csv(GOLDEN)
    assert_frame_equal(got, pl.read_csv(GOLDEN, schema=PUBLISHER_SCHEMA))
    assert got.height == 422


def test_golden_file_agrees_with_the_export_read_by_openpyxl(export_rows) -> None:
    golden = {r["_line_no"]: r for r in pl.read_csv(GOLDEN, schema=PUBLISHER_SCHEMA).iter_rows(named=True)}
    checked = 0
    for row_no, row in enumerate(export_rows, start=1):
        if row[0] not in ("BEL", "NLD"):
            continue
        got = golden[row_no]
        assert got["geo"] == {"BEL": "BE", "NLD": "NL"}[row[0]]
        assert (got["year"], got["value"], got["unit"]) == (int(row[9]), float(row[11]), row[10])
        assert got["native_id"].startswith("unodc." + row[4].lower().replace(" ", "_") + ".")
        checked += 1
    assert checked == len(golden) == 422


# Values written as text --------------------------------------------------------------------------------------


def test_values_written_as_text_are_read_with_their_qualifier(export_rows) -> None:
    rows = belgian_rows(export_rows, 3)
    rows[0][11], rows[1][11], rows[2][11] = "<5", "1,757", " 12 "
    table = unodc_xlsx.read(small_export(export_rows, rows), name="text_values.xlsx")
    assert table.problems == []
    got = table.frame.select("value", "qualifier").rows()
    assert got == [(5.0, "upper_bound"), (1757.0, "exact"), (12.0, "exact")]
    assert table.frame["_raw"][0].split(",")[11] == "<5"


def test_a_value_that_is_not_a_number_refuses_the_file_naming_the_row(export_rows) -> None:
    rows = belgian_rows(export_rows, 2)
    rows[1][11] = "1,75"
    table = unodc_xlsx.read(small_export(export_rows, rows), name="bad_value.xlsx")
    assert table.frame.is_empty()
    [problem] = table.problems
    assert problem.check == "bad_number" and problem.line_no == 5
    assert problem.message.startswith("bad_value.xlsx: row 5: VALUE '1,75' is not a number")


def test_a_formula_without_its_computed_value_refuses_the_file(export_rows) -> None:
    rows = belgian_rows(export_rows, 2)
    rows[1][11] = "=L4*2"  # openpyxl writes the formula and no value: as a script would
    table = unodc_xlsx.read(small_export(export_rows, rows), name="formula.xlsx")
    assert table.frame.is_empty()
    [problem] = table.problems
    assert problem.check == "formula_without_value"
    assert "cell L5" in problem.message and "formula.xlsx" in problem.message


def test_an_error_cell_refuses_the_file(export_rows) -> None:
    rows = belgian_rows(export_rows, 2)
    rows[0][11] = "#DIV/0!"
    table = unodc_xlsx.read(small_export(export_rows, rows), name="error.xlsx")
    assert [p.check for p in table.problems] == ["error_cell"]
    assert "cell L4" in table.problems[0].message and "#DIV/0!" in table.problems[0].message


def test_an_unknown_area_code_refuses_the_file_and_a_known_odd_one_does_not(export_rows) -> None:
    rows = belgian_rows(export_rows, 3)
    rows[0][0], rows[1][0] = "ZZZ", "XKX"
    table = unodc_xlsx.read(small_export(export_rows, rows), name="areas.xlsx")
    [problem] = table.problems
    assert problem.check == "unknown_geo" and problem.line_no == 4 and "AREA_CODES" in problem.message
    rows[0][0] = "NLD"
    table = unodc_xlsx.read(small_export(export_rows, rows), name="areas.xlsx")
    assert table.problems == [] and table.frame["geo"].to_list() == ["NL", "BE"]
    assert [p.line_no for p in table.left_out] == [5]


def test_a_repeated_row_refuses_the_file(export_rows) -> None:
    rows = belgian_rows(export_rows, 2)
    table = unodc_xlsx.read(small_export(export_rows, [*rows, rows[0]]), name="repeated.xlsx")
    assert {p.check for p in table.problems} == {"duplicate_key"}
    assert table.problems[0].line_no == 6 and "already at row 4" in table.problems[0].message


def test_files_that_are_not_exports_are_refused_with_a_reason(export_rows) -> None:
    other = ROOT / "tests" / "cases" / "publishers" / "global-oc-index" / "global_oc_index.xlsx"
    assert [p.check for p in unodc_xlsx.read(other.read_bytes(), name=other.name).problems] == ["missing_column"]
    assert [p.check for p in unodc_xlsx.read(b"Iso3_code,VALUE\n", name="x.xlsx").problems] == ["unreadable_file"]
    headless = small_export([export_rows[0], export_rows[1], export_rows[2][:11]], [])
    [problem] = unodc_xlsx.read(headless, name="h.xlsx").problems
    assert problem.check == "missing_column" and "VALUE" in problem.message


def test_an_export_without_a_release_date_has_no_vintage_and_a_wrong_date_is_refused(export_rows) -> None:
    rows = belgian_rows(export_rows, 1)
    assert unodc_xlsx.read(small_export([export_rows[0], ("",), export_rows[2]], rows), name="a.xlsx").updated is None
    [problem] = unodc_xlsx.read(
        small_export([export_rows[0], ("31/02/2024",), export_rows[2]], rows), name="b.xlsx"
    ).problems
    assert problem.check == "bad_date" and "31/02/2024" in problem.message


# parse_value ---------------------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**12))
def test_grouped_and_plain_integers_read_back_exactly(n: int) -> None:
    assert unodc_xlsx.parse_value(f"{n:,}") == (float(n), "exact")
    assert unodc_xlsx.parse_value(str(n)) == (float(n), "exact")


@given(
    st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False), st.sampled_from(["<", "<=", "≤", ">", ">="])
)
def test_bounds_keep_their_number_and_direction(number, sign: str) -> None:
    value, qualifier = unodc_xlsx.parse_value(f"{sign} {number:,}")
    assert value == float(number)
    assert qualifier == ("upper_bound" if sign in ("<", "<=", "≤") else "lower_bound")


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=99))
def test_commas_that_do_not_group_thousands_are_refused(head: int, tail: int) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        unodc_xlsx.parse_value(f"{head},{tail}")  # "1,75": a decimal comma or a typo, never 175


@given(st.text(max_size=12))
def test_any_text_is_read_or_refused_with_value_error(text: str) -> None:
    try:
        value, qualifier = unodc_xlsx.parse_value(text)
    except ValueError:
        return
    assert qualifier in ("exact", "upper_bound", "lower_bound")
    assert value is None or value == value  # never NaN


def test_cells_that_say_no_value_read_as_none() -> None:
    for text in ("", " ", "..", "-", "n/a"):
        assert unodc_xlsx.parse_value(text) == (None, "exact")


def test_one_read_of_the_sheet_gives_the_table_two_reads_give(export_rows, monkeypatch) -> None:
    """The sheet is read once, VALUE as numbers and its text cells from fastexcel's reports of them; the table is
    the one reading the sheet as text and VALUE again as numbers gives: on the export, on a variant whose text
    values hold what Rust escapes when it reports a string (controls, a no-break space), and on one refused for a
    text value with a quote and a backslash."""
    rows = belgian_rows(export_rows, 6)
    for row, text in zip(rows, ["<5", "\t12\n", "\u00a07 ", ">1,000", "1,757"], strict=False):
        row[11] = text
    refused = [list(r) for r in rows]
    refused[0][11] = 'a"b\\c'
    variants = {
        EXPORT.name: EXPORT.read_bytes(),
        "text_values.xlsx": small_export(export_rows, rows),
        "refused.xlsx": small_export(export_rows, refused),
    }
    for name, content in variants.items():
        workbook = open_workbook(content, name)
        assert not isinstance(workbook, Problem) and unodc_xlsx._read_once(workbook, content) is not None, name
        once = unodc_xlsx.read(content, name=name)
        with monkeypatch.context() as twice_only:
            twice_only.setattr(unodc_xlsx, "_read_once", lambda *_args: None)
            twice = unodc_xlsx.read(content, name=name)
        said = ("problems", "left_out", "updated", "title")
        assert [getattr(once, a) for a in said] == [getattr(twice, a) for a in said]
        assert_frame_equal(once.frame, twice.frame, check_exact=True)
        assert (name == "refused.xlsx") == bool(once.problems) and (once.frame.height > 0) != bool(once.problems)

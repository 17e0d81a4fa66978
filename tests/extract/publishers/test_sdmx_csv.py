"""SDMX-CSV downloads from Eurostat read into publisher rows: labels, flags, LAST UPDATE, 1.0 and 2.0."""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from octracker.extract.publishers import sdmx_csv
from octracker.extract.publishers.codes import label_code
from publisher_cases import EUROSTAT, assert_matches_golden, read_both_ways

SDG = EUROSTAT / "sdg_04_20.csv"
NATIVE_TOTAL = "estat.sdg_04_20.annual.total.from_25_to_34_years.percentage.tertiary_education_levels_5_8"


def published_rows() -> list[dict[str, str]]:
    with SDG.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def rewritten(rows: list[dict[str, str]], header: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_labelled_download_reads_every_row():
    table = sdmx_csv.read(SDG.read_bytes(), name=SDG.name)
    rows = published_rows()
    assert table.ok, table.problems
    assert (table.provider, table.dataset) == ("estat", "sdg_04_20")
    assert table.frame.height == len(rows)
    # LAST UPDATE 12/06/25 23:00:00 is Luxembourg summer time.
    assert table.updated == dt.datetime(2025, 6, 12, 21, 0, tzinfo=dt.UTC)
    assert table.frame.filter(pl.col("flags") == "b").height == sum(r["OBS_FLAG"] == "b" for r in rows)
    assert table.frame.filter(pl.col("flags") == "u").height == sum(r["OBS_FLAG"] == "u" for r in rows)
    assert table.frame["geo"].n_unique() == len({r["geo"] for r in rows})
    assert {"BE", "NL", "TR", "MK", "BA"} <= set(table.frame["geo"])


def test_belgium_and_the_netherlands_match_the_golden_file():
    frame = sdmx_csv.read(SDG.read_bytes(), name=SDG.name).frame
    assert_matches_golden(frame.filter(pl.col("geo").is_in(["BE", "NL"])), "sdmx_csv_sdg_04_20_be_nl")


def test_labels_become_stable_codes_and_code_label_cells_their_code():
    frame = sdmx_csv.read(SDG.read_bytes(), name=SDG.name).frame
    assert NATIVE_TOTAL in set(frame["native_id"])
    rows = published_rows()
    for row in rows:
        row["freq"] = "A:Annual"
        row["unit"] = "PC:Percentage"
        row["geo"] = {"Belgium": "BE:Belgium", "Greece": "EL:Greece"}.get(row["geo"], row["geo"])
    frame2 = sdmx_csv.read(rewritten(rows, list(rows[0])), name="sdg_04_20.csv").frame
    assert NATIVE_TOTAL.replace(".annual.", ".a.").replace(".percentage.", ".pc.") in set(frame2["native_id"])
    assert set(frame2["unit"]) == {"PC"}
    assert {"BE", "GR"} <= set(frame2["geo"])


def test_sdmx_csv_2_gives_the_same_rows():
    rows = published_rows()
    for row in rows:
        row.update(STRUCTURE="dataflow", STRUCTURE_ID=row["DATAFLOW"], ACTION="I")
    header = ["STRUCTURE", "STRUCTURE_ID", "ACTION", *list(published_rows()[0])[1:]]
    one = sdmx_csv.read(SDG.read_bytes(), name=SDG.name)
    two = sdmx_csv.read(rewritten(rows, header), name="sdg_04_20_v2.csv")
    assert two.ok and sdmx_csv.looks_like(rewritten(rows, header))
    assert two.frame.drop("_raw").equals(one.frame.drop("_raw"))
    # A deleted observation (ACTION D) is not read.
    rows[0]["ACTION"] = "D"
    assert sdmx_csv.read(rewritten(rows, header), name="x.csv").frame.height == len(rows) - 1


def test_confidential_cells_have_the_flag_and_no_value():
    """The recorded download has no confidential cell: the first three rows, one made confidential as Eurostat
    writes it (no OBS_VALUE, CONF_STATUS C), one given the free status F beside a provisional flag."""
    rows = published_rows()[:3]
    rows[1].update(OBS_VALUE="", CONF_STATUS="C")
    rows[2].update(OBS_FLAG="p", CONF_STATUS="F")
    frame = sdmx_csv.read(rewritten(rows, list(rows[0])), name="x.csv").frame
    assert frame["value"][1] is None and frame["flags"][1] == "c"
    assert frame["flags"][2] == "p"


def test_bad_rows_are_refused_with_their_line():
    rows = published_rows()[:4]
    rows[1]["OBS_VALUE"] = "twenty"
    rows[2]["geo"] = "Atlantis"
    table = sdmx_csv.read(rewritten(rows, list(rows[0])), name="x.csv")
    described = [p.describe("x.csv") for p in table.problems]
    assert described[0].startswith("x.csv, line 3") and "'twenty' is not a number" in described[0]
    assert described[1].startswith("x.csv, line 4") and "'Atlantis'" in described[1]
    ragged = SDG.read_bytes().replace(b",2009,22.5,,", b",2009,22.5,,,", 1)
    assert "13 cells where the header has 12" in sdmx_csv.read(ragged, name="x.csv").problems[0].message
    short = SDG.read_bytes().replace(b",2009,22.5,,", b",2009,22.5,", 1)
    assert "11 cells where the header has 12" in sdmx_csv.read(short, name="x.csv").problems[0].message


def test_a_file_that_is_not_sdmx_csv_is_refused():
    table = sdmx_csv.read(b"indicator,geo,period,value\nx,BE,2023,1\n", name="long.csv")
    assert not table.ok and "not SDMX-CSV" in table.problems[0].message
    assert not sdmx_csv.looks_like(b"indicator,geo,period,value\n") and sdmx_csv.looks_like(SDG.read_bytes())


@given(st.text(max_size=40))
def test_label_codes_are_stable(label: str):
    code = label_code(label)
    assert label_code(code) == code
    assert code == code.lower() and "." not in code and " " not in code


PUBLISHED = published_rows()


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_the_vintage_is_the_latest_last_update_of_the_rows_read(data):
    """Any rows of the download, each with its own LAST UPDATE: the cheap look a feed takes at the vintage and the
    whole read agree, and both are the latest time of the rows (a deleted row's time does not count)."""
    rows = data.draw(st.lists(st.sampled_from(PUBLISHED), min_size=1, max_size=15))
    # Eurostat's evening releases (23:xx, never in a daylight-saving gap of Luxembourg's clock).
    days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))
    moments = st.builds(lambda d, m: dt.datetime.combine(d, dt.time(23, m)), days, st.integers(0, 59))
    stamped = [{**r, "LAST UPDATE": data.draw(moments).strftime("%d/%m/%y %H:%M:%S")} for r in rows]
    content = rewritten(stamped, list(PUBLISHED[0]))
    table = sdmx_csv.read(content, name="sdg_04_20.csv")
    assert table.ok
    assert sdmx_csv.vintage(content, name="sdg_04_20.csv") == table.updated
    latest = max(dt.datetime.strptime(r["LAST UPDATE"], "%d/%m/%y %H:%M:%S") for r in stamped)
    assert table.updated is not None and table.updated.astimezone(sdmx_csv.LUXEMBOURG).replace(tzinfo=None) == latest


def _variants() -> dict[str, bytes]:
    """The recorded download and variants of it (derived here) that take every branch of the column-wise reading."""
    rows = published_rows()
    header = list(rows[0])
    varied = [dict(r) for r in rows[:40]]
    for n, row in enumerate(varied):
        row.update(STRUCTURE="dataflow", STRUCTURE_ID=row["DATAFLOW"], ACTION="D" if n % 7 == 3 else "I")
        row["freq"] = "A:Annual" if n % 2 else "Annual"
        row["geo"] = {"Belgium": "BE:Belgium", "Greece": "EL:Greece"}.get(row["geo"], row["geo"])
    for n, value in enumerate((" 22.5", ":", "", "2.25e1", "NaN", "+7", ".5", "1_000", "0", "-0.0")):
        varied[n + 1]["OBS_VALUE"] = value
    varied[12].update(OBS_VALUE="", CONF_STATUS="C")
    varied[13].update(OBS_FLAG="p", CONF_STATUS="F")
    varied[14].update(OBS_FLAG="Provisional", CONF_STATUS="confidential")
    two = rewritten(varied, ["STRUCTURE", "STRUCTURE_ID", "ACTION", *header[1:]])
    # Two dimensions of many codes (sex and a frequency that changes), one of one code (age) and no flag columns.
    quarterly = [dict(r, freq="Q" if n % 3 else "A", age="Y25-34") for n, r in enumerate(rows)]
    recorded = SDG.read_bytes()
    return {
        "recorded": recorded,
        # Eurostat ends its lines with CR LF (as recorded); this variant with LF, and blank rows among them.
        "lf_and_blank_rows": recorded.replace(b"\r\n", b"\n").replace(b"\n", b"\n\n , ,,\n", 3),
        "sdmx_2_with_deletions_labels_and_odd_values": two,
        "two_varying_dimensions_no_flags": rewritten(
            quarterly, [h for h in header if h not in ("OBS_FLAG", "CONF_STATUS")]
        ),
    }


VARIANTS = [
    "recorded",
    "lf_and_blank_rows",
    "sdmx_2_with_deletions_labels_and_odd_values",
    "two_varying_dimensions_no_flags",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_reading_by_column_gives_the_rows_reading_row_by_row_gives(variant):
    """A plain file (no quoted cells) is read a column at a time; the rows, values, flags, evidence lines and line
    numbers are those of the row-by-row reading, which a file with quoted cells or a bad row still takes."""
    by_column, by_row = read_both_ways(
        sdmx_csv, _variants()[variant], "x.csv", fast="_read_columns", slow="_row", falls_back=sdmx_csv._RowByRow
    )
    assert (by_column.provider, by_column.dataset, by_column.updated) == (
        by_row.provider,
        by_row.dataset,
        by_row.updated,
    )


def test_a_file_with_a_bad_row_is_refused_as_row_by_row():
    rows = published_rows()
    rows[5]["OBS_VALUE"] = "1e400"
    table = sdmx_csv.read(rewritten(rows, list(rows[0])), name="x.csv")
    assert not table.ok and table.problems[0].line_no == 7 and "too large" in table.problems[0].message


def test_a_file_with_every_cell_quoted_gives_the_same_rows():
    """Quoted cells (a header among them) are read row by row: the same rows, values and line numbers."""
    rows = published_rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    quoted = sdmx_csv.read(out.getvalue().encode(), name=SDG.name)
    recorded = sdmx_csv.read(SDG.read_bytes(), name=SDG.name)
    assert quoted.ok and quoted.updated == recorded.updated
    assert_frame_equal(quoted.frame.drop("_raw"), recorded.frame.drop("_raw"), check_exact=True)


def test_a_download_whose_only_dimension_is_the_geography_reads():
    """No dimension names the series but the dataset itself: every row's native id is the dataset's (a frame of one
    native id and a row per value; reading it by column failed on the height of that one id)."""
    rows = [dict(r, geo=g) for r, g in zip(published_rows()[:3], ("BE", "NL", "DE"), strict=True)]
    content = rewritten(rows, ["DATAFLOW", "LAST UPDATE", "geo", "TIME_PERIOD", "OBS_VALUE"])
    by_column, _ = read_both_ways(
        sdmx_csv, content, "x.csv", fast="_read_columns", slow="_row", falls_back=sdmx_csv._RowByRow
    )
    assert by_column.frame["native_id"].to_list() == ["estat.sdg_04_20"] * 3
    assert by_column.frame["geo"].to_list() == ["BE", "NL", "DE"]

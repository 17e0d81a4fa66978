"""CBS StatLine tables (OData v3 and v4) read from bundles of their recorded answers."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from octracker.extract.publishers import cbs_odata
from publisher_cases import (
    CBS,
    CBS_80072NED,
    CBS_80137NED,
    CBS_83599NED,
    assert_matches_golden,
    cbs_answers,
    cbs_bundle,
)


def read(endpoints, name="table.zip"):
    return cbs_odata.read(cbs_bundle(endpoints), name=name)


def test_typed_v3_table_one_row_per_topic_and_cell():
    table = read(CBS_80137NED)
    typed = json.loads((CBS / "v3/CBSOData3jl-meta_8.json").read_bytes())["value"]
    properties = json.loads((CBS / "v3/CBSOData3jl-meta_7.json").read_bytes())["value"]
    topics = [p for p in properties if p["Type"] == "Topic"]
    assert table.ok and table.dataset == "80137ned"
    assert table.title == "Arbeidsrekeningen; leeftijd en opleidingsniveau"
    assert table.updated == dt.datetime(2009, 7, 10, 0, 0, tzinfo=dt.UTC)  # 02:00 in Amsterdam
    assert table.frame.height == len(typed) * len(topics)
    first = typed[0]
    row = table.frame.filter((pl.col("native_id") == "cbs.80137ned.1.99.totaal_1") & (pl.col("period") == "2001"))
    assert row["value"].to_list() == [first["Totaal_1"]] and row["unit"].to_list() == ["1 000 banen"]
    assert set(table.frame["geo"]) == {"NL"}  # the table has no region dimension
    assert_matches_golden(
        table.frame.filter(pl.col("native_id").str.starts_with("cbs.80137ned.1.99.")).drop("_raw"),
        "cbs_odata_80137ned_total",
    )


def test_untyped_pages_padded_keys_and_right_aligned_values():
    table = read(CBS_83599NED, name="83599ned.zip")
    pages = [json.loads((CBS / f).read_bytes())["value"] for f in CBS_83599NED["UntypedDataSet"]]
    published = [r for page in pages for r in page]
    assert table.ok and table.dataset == "83599ned"
    assert table.frame.height == len(published) == 15504
    assert table.frame["_line_no"].n_unique() == len(published)
    by_id = {r["ID"]: r for r in published}
    for row in table.frame.sample(200, seed=1).iter_rows(named=True):
        cell = by_id[row["_line_no"]]["OpenstaandeVacatures_1"]
        assert row["value"] == (float(cell) if cell.strip() else None)
    regions = {r["RegioS"] for r in published}
    assert set(table.frame["geo"]) == {"NL" if r.strip() == "NL01" else f"NL-{r.strip()}" for r in regions}
    assert set(table.frame["period"].str.slice(4, 1)) == {"Q"}
    assert_matches_golden(
        table.frame.filter(pl.col("geo") == "NL-PV23").head(40).drop("_raw"), "cbs_odata_83599ned_pv23"
    )


def test_a_missing_next_page_is_refused_and_says_which():
    only_first = {"UntypedDataSet": CBS_83599NED["UntypedDataSet"][:1]}
    table = read(only_first)
    assert not table.ok and table.frame.height == 0
    message = table.problems[0].message
    assert "$skip=10000" in message and "UntypedDataSet.2.json" in message


def test_v4_observations_provisional_periods_are_flagged():
    table = read(CBS_80072NED)
    observations = json.loads((CBS / "v4/CBSOData4jl-meta_4.json").read_bytes())["value"]
    codes = json.loads((CBS / "v4/CBSOData4jl-meta_9.json").read_bytes())["value"]
    provisional = {c["Identifier"] for c in codes if c["Status"] == "Voorlopig"}
    assert table.ok and table.dataset == "80072ned"
    assert table.updated == dt.datetime(2020, 6, 19, 0, 0, tzinfo=dt.UTC)
    assert table.frame.height == len(observations)
    flagged = table.frame.filter(pl.col("flags") == "p")
    assert flagged.height == sum(o["Perioden"] in provisional for o in observations) > 0
    assert set(flagged["period"]) == {"2020Q1"}
    assert set(table.frame["unit"]) == {"%"}
    assert_matches_golden(
        table.frame.filter(pl.col("native_id") == "cbs.80072ned.t001081.m001924").drop("_raw"),
        "cbs_odata_80072ned_total",
    )


def test_bundles_are_the_same_bytes_for_the_same_answers():
    answers = cbs_answers(CBS_80137NED)
    assert cbs_odata.bundle_answers(answers) == cbs_odata.bundle_answers(dict(reversed(list(answers.items()))))
    assert cbs_odata.looks_like(cbs_odata.bundle_answers(answers))
    assert not cbs_odata.looks_like(cbs_odata.bundle_answers({"TableInfos": answers["TableInfos"]}))


def test_a_bundle_without_data_or_not_a_zip_is_refused():
    table = read({"TableInfos": CBS_80137NED["TableInfos"]})
    assert not table.ok and "no data" in table.problems[0].message
    loose = cbs_odata.read(b"Perioden;Totaal_1\n2001JJ00;8811\n", name="typed.csv")
    assert not loose.ok and "not a zip archive" in loose.problems[0].describe("typed.csv")


#: The recorded answers handed alone: (file, what it answers, the answers the refusal must ask for).
LONE_ANSWERS = [
    ("v3/CBSOData3jl-meta_8.json", "TypedDataSet of table 80137ned", CBS_80137NED),
    ("v3/CBSOData3jl-tables_2.json", "UntypedDataSet of table 83599NED", None),
    ("v4/CBSOData4jl-meta_4.json", "Observations of table 80072ned", CBS_80072NED),
]


@pytest.mark.parametrize("path, answers, endpoints", LONE_ANSWERS, ids=[a[0] for a in LONE_ANSWERS])
def test_one_answer_alone_is_refused_with_the_answers_to_bundle_and_the_command(path, answers, endpoints):
    """A data page alone cannot give the contract's native ids: its rows list their keys in any order (80137ned's
    TypedDataSet writes BedrijfstakkenSBI93 before Persoonskenmerken; DataProperties puts Persoonskenmerken
    first), and provisional periods are in another answer. The refusal says what to fetch, how to zip it and the
    command; following it with the recorded answers loads the table."""
    content = (CBS / path).read_bytes()
    assert cbs_odata.looks_like(content)
    table = cbs_odata.read(content, name="page.json")
    assert not table.ok and table.frame.height == 0
    message = table.problems[0].message
    assert f"page.json is one CBS OData answer ({answers})" in message
    zip_command = re.search(r"`zip (\S+) ([^`]+)`", message)
    assert zip_command and f"`octracker ingest {zip_command[1]} --kind cbs_odata`" in message
    if "nextLink" in content.decode()[-400:]:
        assert "this page has one" in message
    if endpoints is None:
        return
    members = zip_command[2].split()
    recorded = {f"{endpoint}.json": files[0] for endpoint, files in endpoints.items()}
    assert set(members) <= set(recorded)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        for member in members:
            archive.writestr(member, (CBS / recorded[member]).read_bytes())
    followed = cbs_odata.read(bundle.getvalue(), name=zip_command[1])
    assert followed.ok and followed.frame.height > 0
    assert followed.frame.sort("_line_no", "native_id").equals(read(endpoints).frame.sort("_line_no", "native_id"))


def test_a_bundle_that_cannot_order_its_dimensions_is_refused():
    """Without DataProperties, 80137ned's rows name two dimensions besides time in an order that is not the
    table's: refused, naming the answer to add. 83599NED's pages have one (read above without it)."""
    table = read({"TypedDataSet": CBS_80137NED["TypedDataSet"]})
    assert not table.ok
    message = table.problems[0].message
    assert "no DataProperties answer" in message and "BedrijfstakkenSBI93, Persoonskenmerken" in message
    v4 = read({"Observations": CBS_80072NED["Observations"]})
    assert v4.ok and set(v4.frame["native_id"].str.split(".").list.len()) == {4}


def test_an_untyped_value_that_is_no_number_nor_symbol_is_refused():
    answers = cbs_answers(CBS_83599NED)
    answers["UntypedDataSet"][1] = answers["UntypedDataSet"][1].replace(b'"     1.0","ID":10000', b'"  ??","ID":10000')
    table = cbs_odata.read(cbs_odata.bundle_answers(answers), name="t.zip")
    assert not table.ok and "row ID 10000" in table.problems[0].message


UNTYPED_PAGE = json.loads((CBS / CBS_83599NED["UntypedDataSet"][1]).read_bytes())


def untyped_bundle(rows: list[dict]) -> bytes:
    return cbs_odata.bundle_answers({"UntypedDataSet": [json.dumps({**UNTYPED_PAGE, "value": rows}).encode()]})


def stripped(row: dict) -> dict:
    return {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_untyped_rows_read_the_same_whatever_their_padding_and_order(data):
    """CBS pads keys and right-aligns values as it likes; rows come in any order: the values read do not change."""
    picked = data.draw(
        st.lists(st.sampled_from(UNTYPED_PAGE["value"]), min_size=1, max_size=25, unique_by=lambda r: r["ID"])
    )
    padded = []
    for row in data.draw(st.permutations(picked)):
        pad = data.draw(st.lists(st.integers(0, 10), min_size=len(row), max_size=len(row)))
        padded.append(
            {
                key: (" " * n + value.strip() if key.startswith("Openstaande") else value.strip() + " " * n)
                if isinstance(value, str)
                else value
                for (key, value), n in zip(row.items(), pad, strict=True)
            }
        )
    plain = cbs_odata.read(untyped_bundle([stripped(r) for r in picked]), name="83599ned.zip")
    table = cbs_odata.read(untyped_bundle(padded), name="83599ned.zip")
    assert plain.ok and table.ok
    assert_frame_equal(table.frame.drop("_raw").sort("_line_no"), plain.frame.drop("_raw").sort("_line_no"))
    values = {r["ID"]: r["OpenstaandeVacatures_1"].strip() for r in picked}
    assert {n: (str(v) if v is not None else "") for n, v in zip(table.frame["_line_no"], table.frame["value"])} == {
        n: (str(float(v)) if v else "") for n, v in values.items()
    }


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=6), st.integers(0, 9), st.integers(0, 8))
def test_any_right_aligned_number_reads_as_that_number(digits: str, decimals: int, pad: int):
    text = f"{int(digits)}.{decimals}"
    row = {**UNTYPED_PAGE["value"][0], "OpenstaandeVacatures_1": " " * pad + text}
    table = cbs_odata.read(untyped_bundle([row]), name="83599ned.zip")
    assert table.ok and table.frame["value"].to_list() == [float(text)]

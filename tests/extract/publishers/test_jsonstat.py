"""Eurostat JSON-stat 2.0 bodies, as Eurostat wrote them, read into publisher rows."""

from __future__ import annotations

import datetime as dt
import json
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from octracker.extract.publishers import jsonstat
from publisher_cases import EUROSTAT, assert_matches_golden, read_both_ways

UNE_RT_M = EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json"
COMEXT = EUROSTAT / "comext" / "ds-059358-de-2022.json"


def read(path):
    return jsonstat.read(path.read_bytes(), name=path.name)


def read_body(body: dict, name: str = "variant.json"):
    return jsonstat.read(json.dumps(body).encode(), name=name)


def test_monthly_unemployment_matches_the_golden_file():
    table = read(UNE_RT_M)
    assert table.ok and table.dataset == "une_rt_m"
    assert table.title == "Unemployment by sex and age - monthly data"
    assert table.updated == dt.datetime(2026, 9, 22, 9, 0, tzinfo=dt.UTC)
    assert_matches_golden(table.frame, "jsonstat_une_rt_m_de")


def test_every_published_value_is_read_at_its_month():
    body = json.loads(UNE_RT_M.read_bytes())
    months = {pos: code for code, pos in body["dimension"]["time"]["category"]["index"].items()}
    frame = read(UNE_RT_M).frame
    assert frame.height == len(body["value"])  # the last month is in positions-with-no-data: no row
    got = dict(zip(frame["period"], frame["value"], strict=True))
    assert got == {months[int(i)]: v for i, v in body["value"].items()}
    assert set(frame["native_id"]) == {"estat.une_rt_m.m.sa.total.pc_act.t"}
    assert set(frame["unit"]) == {"PC_ACT"} and set(frame["geo"]) == {"DE"}


def test_comext_strings_among_numbers():
    body = json.loads(COMEXT.read_bytes())
    frame = read(COMEXT).frame
    numbers = {int(i): v for i, v in body["value"].items() if isinstance(v, (int, float))}
    confidential = {int(i) for i, v in body["value"].items() if v == ":C"}
    texts = {int(i) for i, v in body["value"].items() if v == "KG"}
    assert frame.height == len(body["value"])
    assert frame["_line_no"].to_list() == sorted(frame["_line_no"])  # keys come unsorted, rows in cube order
    with_value = frame.filter(pl.col("value").is_not_null())
    assert dict(zip(with_value["_line_no"], with_value["value"], strict=True)) == numbers
    flagged = frame.filter(pl.col("flags") == "c")
    assert set(flagged["_line_no"]) == confidential and flagged["value"].null_count() == flagged.height
    unit_cells = frame.filter(pl.col("_line_no").is_in(list(texts)))
    assert unit_cells["value"].null_count() == len(texts) and unit_cells["flags"].null_count() == len(texts)
    # Comext calls the geography `reporter`; product and indicator stay in the native id.
    assert set(frame["geo"]) == {"DE"}
    assert "estat.ds-059358.a.20143430.expval" in set(frame["native_id"])
    assert_matches_golden(frame, "jsonstat_comext_ds_059358")


def test_confidential_cells_have_a_flag_and_no_value():
    frame = read(EUROSTAT / "sts-inpr-m-ie-confidential.json").frame
    assert frame.height == 6
    assert frame["value"].null_count() == 6 and set(frame["flags"]) == {"c"}
    assert frame["period"].to_list() == [f"2023-0{m}" for m in range(1, 7)]


def test_empty_answers_are_empty_tables_not_errors():
    for name in (
        "nama-10-gdp-de-since-2030.json",
        "une-rt-m-geo-xx-last1.json",
        "une-rt-m-unit-fake-last1.json",
        "sts-inpr-m-ie-empty.json",
    ):
        table = read(EUROSTAT / name)
        assert table.ok, table.problems
        assert table.frame.height == 0
        assert table.updated is not None


def test_error_bodies_are_refused_with_the_publishers_message():
    cases = {
        "comext/ds-045409-extraction-too-big.json": "EXTRACTION_TOO_BIG",
        "comext/ds-045409-fault-413.xml": "EXTRACTION_TOO_BIG",
        "comext/ds-999999-statistics.json": "DS-999999",
    }
    for name, said in cases.items():
        table = read(EUROSTAT / name)
        assert not table.ok and table.frame.height == 0
        message = table.problems[0].describe((EUROSTAT / name).name)
        assert message.startswith((EUROSTAT / name).name) and said in message
    too_big = read(EUROSTAT / "comext/ds-045409-fault-413.xml").problems[0].message
    assert "413" in too_big and "filter" in too_big


def test_a_body_that_is_not_json_stat_is_refused():
    tsv = EUROSTAT / "comext" / "ds-059358-de-2022.tsv"
    table = read(tsv)
    assert not table.ok and "not JSON" in table.problems[0].message
    assert not jsonstat.looks_like(tsv.read_bytes()) and jsonstat.looks_like(UNE_RT_M.read_bytes())


def test_greece_and_the_united_kingdom_get_iso_codes_and_aggregates_stay():
    body = json.loads(UNE_RT_M.read_bytes())
    for published, expected in (("EL", "GR"), ("UK", "GB"), ("EU27_2020", "EU27_2020")):
        body["dimension"]["geo"]["category"] = {"index": {published: 0}, "label": {published: published}}
        assert set(read_body(body).frame["geo"]) == {expected}


def test_dense_list_form_gives_the_same_rows():
    body = json.loads(UNE_RT_M.read_bytes())
    cells = [None] * 32
    for i, v in body["value"].items():
        cells[int(i)] = v
    dense = dict(body, value=cells)
    assert read_body(dense).frame.drop("_raw").equals(read(UNE_RT_M).frame.drop("_raw"))


def test_status_written_once_applies_to_every_cell():
    body = json.loads(UNE_RT_M.read_bytes())
    assert set(read_body(dict(body, status="p")).frame["flags"]) == {"p"}


def test_a_cube_whose_sizes_disagree_with_its_categories_is_refused():
    body = json.loads(UNE_RT_M.read_bytes())
    body["size"][-1] = 40
    table = read_body(body, "une_rt_m.json")
    assert not table.ok and "'time' has size 40 but 32 categories" in table.problems[0].message


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_any_order_of_keys_gives_the_same_rows(rnd: random.Random):
    """Eurostat does not sort `value`, `status` or category indexes; the rows must not depend on their order."""
    body = json.loads(COMEXT.read_bytes())
    body["status"] = {k: "p" for k in list(body["value"])[::3]}

    def shuffled(mapping: dict) -> dict:
        items = list(mapping.items())
        rnd.shuffle(items)
        return dict(items)

    mixed = dict(body, value=shuffled(body["value"]), status=shuffled(body["status"]))
    mixed["dimension"] = {
        d: {**spec, "category": {**spec["category"], "index": shuffled(spec["category"]["index"])}}
        for d, spec in body["dimension"].items()
    }
    assert read_body(mixed).frame.equals(read_body(body).frame)


def _variants() -> dict[str, dict]:
    """The recorded answer and variants of it (derived here) that take every branch of the column-wise reading."""
    body = json.loads(UNE_RT_M.read_bytes())
    values = dict(body["value"])
    odd = {"0": 0, "1": 0.0, "2": -0.0, "3": 1e-7, "4": 2.5e20, "5": 12, "6": None, "7": 9.999e-5, "8": 1e16}
    dense = [None] * 32
    for key, value in values.items():
        dense[int(key)] = value
    statuses = {"3": "p", "9": "b", "31": "c"}  # 31 has no value: a withheld cell
    del values["30"]
    return {
        "recorded": body,
        "dense_list": dict(body, value=dense),
        "one_status": dict(body, status="p"),
        "statuses_and_odd_numbers": dict(body, value={**values, **odd}, status=statuses),
    }


@pytest.mark.parametrize("variant", ["recorded", "dense_list", "one_status", "statuses_and_odd_numbers"])
def test_reading_by_column_gives_the_rows_reading_cell_by_cell_gives(variant):
    """A body of numbers is read a column at a time; the rows, values, flags and evidence are those of the
    cell-by-cell reading, which a body with text among its values still takes."""
    content = json.dumps(_variants()[variant]).encode()
    read_both_ways(
        jsonstat, content, "x.json", fast="_read_columns", slow="_read_cells", falls_back=jsonstat._CellByCell
    )


@pytest.mark.parametrize("variant", ["recorded", "one_status", "statuses_and_odd_numbers", "as_recorded_pretty"])
def test_a_value_object_of_numbers_split_by_polars_gives_the_rows_orjson_gives(variant, monkeypatch):
    """A `value` object of numbers and nulls is split into columns without being parsed into a dict; the rows are
    those of the body parsed whole, whitespace and all."""
    content = UNE_RT_M.read_bytes() if variant == "as_recorded_pretty" else json.dumps(_variants()[variant]).encode()
    assert isinstance(jsonstat._parsed(content.decode())["value"], jsonstat._PlainCells)
    split = jsonstat.read(content, name="x.json")
    monkeypatch.setattr(jsonstat, "_with_plain_cells", lambda _text: None)
    parsed = jsonstat.read(content, name="x.json")
    assert split.ok and split.frame.height > 0
    assert_frame_equal(split.frame, parsed.frame, check_exact=True)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda text: text.replace('"value" : {', '"value" : {"3": "3.4", ', 1), id="text_among_numbers"),
        pytest.param(lambda text: text.replace('"value" : {', '"value" : {"7": 1.5, ', 1), id="a_key_twice"),
        pytest.param(lambda text: text.replace('"label"', '"value": {"0": 1}, "label"', 1), id="a_nested_value"),
    ],
)
def test_a_value_object_polars_does_not_split_is_read_as_the_body_parsed_whole(edit, monkeypatch):
    """Text among the numbers, a key written twice (the last one counts) or a second `value` key: the rows are those
    of the body parsed whole."""
    content = edit(UNE_RT_M.read_text(encoding="utf-8").replace('"value": {', '"value" : {', 1)).encode()
    read_so = jsonstat.read(content, name="x.json")
    monkeypatch.setattr(jsonstat, "_with_plain_cells", lambda _text: None)
    parsed = jsonstat.read(content, name="x.json")
    assert read_so.ok and read_so.frame.height == 31
    assert_frame_equal(read_so.frame, parsed.frame, check_exact=True)
    assert read_so.frame.filter(pl.col("_line_no") == 7).get_column("value").to_list() == [3.4]

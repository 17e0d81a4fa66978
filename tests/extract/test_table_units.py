"""A long table's units: another spelling of the catalog's unit, or a unit pint converts to it, is restated in
the catalog's unit on load; the row's own text (its evidence) keeps the unit the file wrote. Any other unit is
refused, naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octracker.content.catalog import load_catalog
from octracker.extract.tables import extract_long_table
from octracker.units import CatalogUnitError

ROOT = Path(__file__).resolve().parents[2]
HEADER = "indicator,geo,period,value,unit\n"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "schemas" / "indicators.toml")


def read(tmp_path: Path, rows: str, catalog):
    path = tmp_path / "table.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return extract_long_table(path, source_id="test-source", catalog=catalog)


def test_kilograms_are_loaded_as_tonnes_and_the_evidence_keeps_the_kilograms(tmp_path, catalog):
    extract = read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,61800,kg\n", catalog)
    assert extract.problems == []
    [row] = extract.frame.to_dicts()
    assert (row["value"], row["unit"]) == (61.8, "tonnes")
    assert row["evidence"].endswith("cocaine_seized_tonnes,BEANR,2019,61800,kg")
    assert row["note"] == "stated as 61800 kg, converted to tonnes"


def test_an_alias_of_the_catalog_unit_keeps_its_value(tmp_path, catalog):
    extract = read(tmp_path, "shootings,BE-BRU,2019,12,incidents\nshooting_deaths,BE-BRU,2019,3,count\n", catalog)
    assert extract.problems == []
    rows = {r["indicator_id"]: r for r in extract.frame.to_dicts()}
    assert (rows["shootings"]["value"], rows["shootings"]["unit"]) == (12, "count")
    assert rows["shootings"]["note"] == "unit stated as incidents"
    # A row already in the catalog's unit is untouched.
    assert rows["shooting_deaths"]["note"] is None


def test_a_unit_of_another_kind_is_refused_naming_the_line(tmp_path, catalog):
    extract = read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,61800,kg\nshootings,BE-BRU,2019,12,litres\n", catalog)
    assert [(p.check, p.line_no) for p in extract.problems] == [("unit_mismatch", 3)]
    assert "unit 'litres' is not the catalog unit 'count' of shootings and does not convert to it" in (
        extract.problems[0].message
    )


def test_a_unit_pints_parser_cannot_take_is_refused_naming_the_line(tmp_path, catalog):
    # Found by the long-table fuzz test: pint's parser fails an assertion on a unit of punctuation alone.
    extract = read(tmp_path, "oci.criminal_markets,BE,1990,1,;\n", catalog)
    assert [(p.check, p.line_no) for p in extract.problems] == [("unit_mismatch", 2)]
    assert "unit ';' is not the catalog unit 'score' of oci.criminal_markets" in extract.problems[0].message


def test_a_converted_value_is_checked_against_the_catalog_range_in_its_unit(tmp_path, catalog):
    # 10,000 t is the catalog's maximum: 9,000,000 kg is within it, 20,000,000 kg is not.
    ok = read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,9000000,kg\n", catalog)
    assert ok.problems == [] and ok.frame["value"].to_list() == [9000.0]
    too_much = read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,20000000,kg\n", catalog)
    assert [p.check for p in too_much.problems] == ["out_of_range"]


@settings(max_examples=40, deadline=None)
@given(grams=st.integers(min_value=0, max_value=10**12))
def test_any_mass_converts_to_the_same_tonnes_from_kilograms_and_grams(tmp_path_factory, grams):
    catalog = load_catalog(ROOT / "schemas" / "indicators.toml")
    folder = tmp_path_factory.mktemp("units")
    kilograms = grams / 1000
    rows = f"cocaine_seized_tonnes,BEANR,2019,{kilograms!r},kg\ncocaine_seized_tonnes,BEANR,2020,{grams},g\n"
    extract = read(folder, rows, catalog)
    if grams > 10_000 * 10**6:
        assert {p.check for p in extract.problems} == {"out_of_range"}
        return
    assert extract.problems == []
    values = extract.frame.sort("year")["value"].to_list()
    assert values[0] == pytest.approx(values[1], rel=1e-12) == pytest.approx(grams / 10**6, rel=1e-12)


def test_a_catalog_unit_pint_cannot_read_is_refused_naming_the_catalog_when_a_value_needs_converting(tmp_path):
    text = (ROOT / "schemas" / "indicators.toml").read_text(encoding="utf-8")
    assert 'pint = "tonne"' in text
    catalog_file = tmp_path / "indicators.toml"
    catalog_file.write_text(text.replace('pint = "tonne"', 'pint = "tonne_of_nothing"'), encoding="utf-8")
    catalog = load_catalog(catalog_file)
    # A row in the catalog's own unit needs no conversion, so it loads.
    assert read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,61.8,tonnes\n", catalog).problems == []
    with pytest.raises(CatalogUnitError) as refused:
        read(tmp_path, "cocaine_seized_tonnes,BEANR,2019,61800,kg\n", catalog)
    assert str(catalog_file) in str(refused.value)
    assert "(tonnes): pint cannot read 'tonne_of_nothing'" in str(refused.value)

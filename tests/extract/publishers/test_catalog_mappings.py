"""The catalog's mappings from publishers' native series to curated indicators, checked against what the shipped
feeds ask for and the units the bundled publishers' files write: a mapping that can never match, or a unit the
catalog cannot read, would leave a curated indicator silently empty or refuse a whole file."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from octracker.content.catalog import load_catalog
from octracker.extract.publishers import unodc_xlsx
from octracker.extract.publishers.canonical import publisher_extract
from octracker.extract.publishers.kinds import PUBLISHER_KINDS

ROOT = Path(__file__).resolve().parents[3]
CRIM_OFF_CAT = ROOT / "pipelines" / "estat_crim_off_cat.toml"
UNODC_SNAPSHOT = ROOT / "pipelines" / "snapshots" / "unodc_violent_and_sexual_crime.xlsx"
#: The offences the catalog follows for Belgium, the Netherlands and the EU, by their ICCS code.
FOLLOWED = {
    "iccs0101": "intentional homicide",
    "iccs0601": "drug offences",
    "iccs07041": "money laundering",
    "iccs0903": "participation in an organised criminal group",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "schemas" / "indicators.toml")


def feed_query() -> dict[str, list[str]]:
    spec = tomllib.loads(CRIM_OFF_CAT.read_text(encoding="utf-8"))
    return parse_qs(urlsplit(spec["feed"]["url"]).query)


def answer_to(query: dict[str, list[str]]) -> bytes:
    """A JSON-stat body shaped as Eurostat answers the feed's query (dimensions freq, iccs, unit, geo, time in
    crim_off_cat's order), every cell a distinct number so that each mapped value can be traced back."""
    dims = {
        "freq": ["A"],
        "iccs": query["iccs"],
        "unit": query["unit"],
        "geo": query["geo"],
        "time": ["2021", "2022"],
    }
    n = 1
    for codes in dims.values():
        n *= len(codes)
    body = {
        "version": "2.0",
        "class": "dataset",
        "label": "Offences by offence category",
        "updated": "2025-01-31T23:00:00+0100",
        "extension": {"id": "CRIM_OFF_CAT"},
        "id": list(dims),
        "size": [len(c) for c in dims.values()],
        "dimension": {
            d: {"label": d, "category": {"index": {c: i for i, c in enumerate(codes)}}} for d, codes in dims.items()
        },
        "value": {str(i): round(0.37 * (i + 1), 2) for i in range(n)},
    }
    return json.dumps(body).encode()


def test_the_followed_offences_are_mapped_for_belgium_the_netherlands_and_the_eu(catalog):
    query = feed_query()
    assert {"BE", "NL", "EU27_2020"} <= set(query["geo"])
    mapped = {n: i for i in catalog.indicators for n in i.native if n.startswith("estat.crim_off_cat.")}
    for code in FOLLOWED:
        assert code.upper() in query["iccs"], f"the feed does not ask for {FOLLOWED[code]} ({code})"
        assert any(f".{code}." in n for n in mapped), f"no curated indicator maps {FOLLOWED[code]} ({code})"
    # Every mapping names a series the feed's answer holds.
    asked = {
        f"estat.crim_off_cat.a.{i.lower()}.{u.lower()}" for i, u in itertools.product(query["iccs"], query["unit"])
    }
    assert set(mapped) <= asked


def test_the_feeds_answer_loads_each_mapped_series_under_its_curated_id_in_the_catalogs_unit(catalog):
    table = PUBLISHER_KINDS["jsonstat"].read(answer_to(feed_query()), name="crim_off_cat.json", catalog=catalog)
    assert table.ok, table.problems
    extract = publisher_extract(table, source_id="estat-crim_off_cat", catalog=catalog)
    assert extract.problems == []
    frame = extract.frame
    native = {
        (r["indicator_id"], r["geo"], r["year"]): r["value"] for r in frame.to_dicts() if "." in r["indicator_id"]
    }
    for indicator in catalog.indicators:
        for native_id in (n for n in indicator.native if n.startswith("estat.crim_off_cat.")):
            rows = frame.filter(frame["indicator_id"] == indicator.id).to_dicts()
            assert {(r["geo"], r["year"]) for r in rows} == {
                (g, y) for g in ("BE", "NL", "EU27_2020") for y in (2021, 2022)
            }
            for row in rows:
                assert row["unit"] == indicator.unit
                assert row["value"] == native[(native_id, row["geo"], row["year"])]
                assert row["note"] == f"published as {native_id}"


def test_every_unit_the_unodc_export_writes_is_one_the_catalog_reads(catalog):
    table = unodc_xlsx.read(UNODC_SNAPSHOT.read_bytes(), name=UNODC_SNAPSHOT.name)
    units = set(table.frame["unit"].unique().to_list())
    assert units == {"Counts", "Rate per 100,000 population"}
    assert catalog.units.factor("Counts", "count") == 1.0
    assert catalog.units.factor("Rate per 100,000 population", "per 100,000 people") == 1.0

"""The catalog's mappings from publishers' native series to curated indicators, checked against what the shipped
feeds ask for and the units the bundled publishers' files write: a mapping that can never match, or a unit the
catalog cannot read, would leave a curated indicator silently empty or refuse a whole file.

No answer of Eurostat's crim_off_cat is recorded, so its mappings are checked against the feed's query and the
contract's id rule only (the JSON-stat reader's ids are checked on Eurostat's recorded answers elsewhere); the
UNODC mappings are checked on the bundled UNODC export itself.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl
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


def test_the_units_the_feed_asks_for_are_the_mapped_indicators_units(catalog):
    """Eurostat writes the unit code (NR, P_HTHAB) as each value's unit: the catalog reads it as the unit of the
    indicator that maps the series, so a value is loaded as published, not refused for its unit."""
    units = {u.lower(): u for u in feed_query()["unit"]}
    for indicator in catalog.indicators:
        for native_id in (n for n in indicator.native if n.startswith("estat.crim_off_cat.")):
            assert catalog.units.factor(units[native_id.rsplit(".", 1)[1]], indicator.unit) == 1.0, native_id


def test_the_unodc_export_gives_curated_crime_series_for_belgium_and_the_netherlands(catalog):
    """The bundled UNODC export (a real release) loads each series the catalog maps under the curated id too: the
    same values for BE and NL, in the catalog's unit, saying which native series they were published as."""
    table = unodc_xlsx.read(UNODC_SNAPSHOT.read_bytes(), name=UNODC_SNAPSHOT.name)
    extract = publisher_extract(table, source_id="unodc-data_cts_violent_and_sexual_crime", catalog=catalog)
    assert extract.problems == []
    frame = extract.frame.filter(pl.col("geo").is_in(["BE", "NL"]))
    mapped = {n: i for i in catalog.indicators for n in i.native if n.startswith("unodc.")}
    assert {i.id for i in mapped.values()} >= {"kidnapping_per_100k", "sexual_exploitation_per_100k"}
    for native_id, indicator in mapped.items():
        published = frame.filter(pl.col("indicator_id") == native_id).select("geo", "year", "value")
        curated = frame.filter(pl.col("indicator_id") == indicator.id)
        assert set(curated["geo"]) == {"BE", "NL"}, indicator.id
        assert curated.select("geo", "year", "value").sort("geo", "year").equals(published.sort("geo", "year"))
        assert set(curated["unit"]) == {indicator.unit}
        assert set(curated["note"]) == {f"published as {native_id}"}


def test_every_unit_the_unodc_export_writes_is_one_the_catalog_reads(catalog):
    table = unodc_xlsx.read(UNODC_SNAPSHOT.read_bytes(), name=UNODC_SNAPSHOT.name)
    units = set(table.frame["unit"].unique().to_list())
    assert units == {"Counts", "Rate per 100,000 population"}
    assert catalog.units.factor("Counts", "count") == 1.0
    assert catalog.units.factor("Rate per 100,000 population", "per 100,000 people") == 1.0

"""The Global Organized Crime Index profile extractor, on the bundled 2025 profiles and edited copies."""

from __future__ import annotations

import csv
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from octracker.content.catalog import Catalog, load_catalog
from octracker.extract.oci_profile import (
    extract_oci_profile,
    format_score_line,
    parse_oci_profile,
    parse_score_line,
    render_oci_profile,
)
from octracker.extracts import EXTRACT_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "pipelines" / "documents" / "003_3261f147cc4f0198.txt"
SOURCE_ID = "003_3261f147cc4f0198"
GOLDEN = ROOT / "tests" / "golden" / "oci_2025_profiles.csv"
CASES = ROOT / "tests" / "cases" / "oci_profile"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "schemas" / "indicators.toml")


@pytest.fixture(scope="module")
def text() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def frame(text: str, catalog: Catalog) -> pl.DataFrame:
    extract = extract_oci_profile(
        text, source_id=SOURCE_ID, edition=2025, previous_edition=2023, countries=["NL", "BE"], catalog=catalog
    )
    assert extract.problems == []
    return extract.frame


def value(frame: pl.DataFrame, geo: str, indicator_id: str, year: int) -> float:
    rows = frame.filter((pl.col("geo") == geo) & (pl.col("indicator_id") == indicator_id) & (pl.col("year") == year))
    assert rows.height == 1, f"{geo} {indicator_id} {year}: {rows.height} rows"
    return rows["value"][0]


# The 2025 document ------------------------------------------------------------------------------------------


def test_frame_matches_the_golden_file(frame: pl.DataFrame) -> None:
    schema = {k: v for k, v in EXTRACT_SCHEMA.items() if k != "_raw"}
    golden = pl.read_csv(GOLDEN, schema=schema)
    assert_frame_equal(frame.drop("_raw"), golden)


def test_golden_file_agrees_with_the_document_read_line_by_line() -> None:
    """Re-reads the document by line arithmetic alone (no extractor code) and checks all 136 printed/derived values."""
    lines = DOCUMENT.read_text(encoding="utf-8").splitlines()
    with GOLDEN.open(encoding="utf-8", newline="") as f:
        golden = {(r["geo"], r["indicator_id"], int(r["year"])): r for r in csv.DictReader(f)}
    checked = 0
    for geo, first_line in (("NL", 1), ("BE", 130)):
        for k in range(34):
            name = lines[first_line - 1 + 3 * k]
            score_line = lines[first_line + 3 * k]
            indicator_id = "oci." + name.lower().replace("-", "_").replace(" ", "_")
            score, change = Decimal(score_line[:4]), Decimal(score_line[4:])  # every 2025 score is below 10
            printed, derived = golden[(geo, indicator_id, 2025)], golden[(geo, indicator_id, 2023)]
            assert Decimal(printed["value"]) == score, (geo, name)
            assert Decimal(derived["value"]) == score - change, (geo, name)
            assert printed["evidence"] == f"{name} / {score_line} (line {first_line + 3 * k + 1})"
            assert (printed["method"], derived["method"]) == ("parsed", "derived")
            assert printed["_line_no"] == derived["_line_no"] == str(first_line + 1 + 3 * k)
            checked += 2
    assert checked == 2 * 34 * 2
    assert len(golden) == 144


@pytest.mark.parametrize(
    ("geo", "indicator_id", "year", "expected"),
    [
        ("NL", "oci.cocaine_trade", 2025, 8.00),
        ("NL", "oci.cocaine_trade", 2023, 7.50),
        ("BE", "oci.trade_in_counterfeit_goods", 2025, 6.00),
        ("BE", "oci.trade_in_counterfeit_goods", 2023, 5.00),
        ("BE", "oci.criminal_markets", 2025, 5.53),
        ("BE", "oci.criminal_markets", 2023, 5.17),
        ("NL", "oci.financial_crimes", 2025, 6.00),
        ("NL", "oci.financial_crimes", 2023, 5.00),
        ("NL", "oci.extortion_and_protection_racketeering", 2023, 2.50),  # 2.00 - (-0.50)
        # Half-up on an exact .xx5: (5.53 + 4.10) / 2 = 4.815, which float arithmetic would round to 4.81.
        ("BE", "oci.criminality", 2025, 4.82),
        ("NL", "oci.criminality", 2025, 5.17),
        ("NL", "oci.resilience", 2025, 7.42),
        ("BE", "oci.resilience", 2023, 7.04),
    ],
)
def test_known_values(frame: pl.DataFrame, geo: str, indicator_id: str, year: int, expected: float) -> None:
    assert value(frame, geo, indicator_id, year) == expected


def test_row_counts(frame: pl.DataFrame) -> None:
    methods = dict(frame.group_by("method").len().iter_rows())
    assert methods == {"parsed": 68, "derived": 68, "computed": 8}
    assert frame.height == 144


def test_blocks_are_attributed_in_document_order(text: str, catalog: Catalog, frame: pl.DataFrame) -> None:
    blocks, _ = parse_oci_profile(text, edition=2025, catalog=catalog)
    assert [(b.country, b.line_no) for b in blocks] == [("NL", 1), ("BE", 130)]
    assert frame.filter(pl.col("_line_no") < 130)["geo"].unique().to_list() == ["NL"]
    assert frame.filter(pl.col("_line_no") >= 130)["geo"].unique().to_list() == ["BE"]


def test_countries_are_detected_when_not_given(text: str, catalog: Catalog, frame: pl.DataFrame) -> None:
    detected = extract_oci_profile(
        text, source_id=SOURCE_ID, edition=2025, previous_edition=2023, countries=None, catalog=catalog
    )
    assert detected.problems == []
    assert_frame_equal(detected.frame, frame)


def test_frame_passes_the_canonical_observation_model(frame: pl.DataFrame) -> None:
    spec = importlib.util.spec_from_file_location("observation", ROOT / "schemas" / "observation.py")
    observation = importlib.util.module_from_spec(spec)
    # Pandera resolves the model's string annotations through sys.modules.
    sys.modules.setdefault("observation", observation)
    spec.loader.exec_module(observation)
    observation.Observation.validate(frame)


def test_evidence_quotes_the_lines(frame: pl.DataFrame) -> None:
    cocaine = frame.filter((pl.col("geo") == "NL") & (pl.col("indicator_id") == "oci.cocaine_trade"))
    by_method = dict(zip(cocaine["method"], cocaine["evidence"]))
    assert by_method == {
        "parsed": "Cocaine trade / 8.000.50 (line 35)",
        "derived": 'derived: 2025 score 8.00 minus change +0.50 (line 35 "8.000.50")',
    }
    assert cocaine["_raw"].to_list() == ["Cocaine trade\n8.000.50"] * 2
    criminality = frame.filter(
        (pl.col("geo") == "BE") & (pl.col("indicator_id") == "oci.criminality") & (pl.col("year") == 2023)
    )
    assert criminality["evidence"][0] == (
        "computed: mean of 2 inputs for 2023, each input derived as its 2025 score minus change "
        "(sum 8.8667 / 2 = 4.4333, half-up 4.43): oci.criminal_markets 5.1667 (mean of its components), "
        "oci.criminal_actors 3.70"
    )
    # As the index computes it: from the unrounded means of the 15 markets and 5 actors, rounded once (the
    # mean of the printed 5.17 and 3.70 would be 4.435, i.e. 4.44).
    assert criminality["value"][0] == 4.43


def test_without_a_previous_edition_only_the_edition_is_written(text: str, catalog: Catalog) -> None:
    extract = extract_oci_profile(
        text, source_id=SOURCE_ID, edition=2025, previous_edition=None, countries=["NL", "BE"], catalog=catalog
    )
    assert extract.problems == []
    assert extract.frame["year"].unique().to_list() == [2025]
    assert extract.frame.height == 68 + 4


# Malformed profiles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "countries", "expected"),
    [
        ("truncated_block", ["NL"], [("missing_indicator", 91)] * 4),
        ("score_out_of_range", ["NL"], [("score_out_of_range", 35)]),
        ("unparseable_score", ["NL"], [("unparseable_score", 35)]),
        ("unknown_indicator", ["NL"], [("unknown_indicator", 34), ("missing_indicator", 34)]),
        ("duplicated_indicator", ["NL"], [("duplicate_indicator", 37)]),
        ("aggregate_mismatch", ["NL"], [("aggregate_mismatch", 2)]),
        ("aggregate_change_mismatch", ["NL"], [("aggregate_change_mismatch", 2)]),
        ("no_narrative", ["NL", "BE"], [("country_unknown", 1)]),
        ("country_mismatch", ["NL", "BE"], [("country_mismatch", 1), ("country_mismatch", 135)]),
    ],
)
def test_malformed_profile_is_refused_with_check_and_line(
    catalog: Catalog, case: str, countries: list[str], expected: list[tuple[str, int]]
) -> None:
    text = (CASES / f"{case}.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id=case, edition=2025, previous_edition=2023, countries=countries, catalog=catalog
    )
    assert sorted((p.check, p.line_no) for p in extract.problems) == sorted(expected)
    assert not extract.ok
    assert all(p.message and p.payload for p in extract.problems)


def test_truncated_block_names_each_missing_indicator(catalog: Catalog) -> None:
    text = (CASES / "truncated_block.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id="t", edition=2025, previous_edition=2023, countries=["NL"], catalog=catalog
    )
    assert [p.payload for p in extract.problems] == [
        "Economic regulatory capacity",
        "Victim and witness support",
        "Prevention",
        "Non-state actors",
    ]
    assert "oci.resilience" not in extract.frame["indicator_id"].to_list()  # needs all 12 inputs


def test_payload_is_the_raw_lines(catalog: Catalog) -> None:
    text = (CASES / "unparseable_score.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id="t", edition=2025, previous_edition=2023, countries=["NL"], catalog=catalog
    )
    assert extract.problems[0].payload == "Cocaine trade\n8.00.50"


def test_without_countries_an_unattributed_block_is_still_a_problem(catalog: Catalog) -> None:
    text = (CASES / "no_narrative.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id="t", edition=2025, previous_edition=2023, countries=None, catalog=catalog
    )
    assert [(p.check, p.line_no) for p in extract.problems] == [("country_unknown", 1)]
    assert extract.frame["geo"].unique().to_list() == ["BE"]


def test_block_count_must_match_the_countries_given(text: str, catalog: Catalog) -> None:
    extract = extract_oci_profile(
        text, source_id=SOURCE_ID, edition=2025, previous_edition=2023, countries=["NL"], catalog=catalog
    )
    assert [p.check for p in extract.problems] == ["block_count_mismatch"]


def test_a_document_without_scores_is_refused(catalog: Catalog) -> None:
    # The bundled 2021 Belgium summary is narrative only; its headings are indicator names.
    text = (ROOT / "pipelines" / "documents" / "001_28c4e90fbdaf88a9.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id="001", edition=2021, previous_edition=None, countries=["BE"], catalog=catalog
    )
    assert [p.check for p in extract.problems] == ["no_score_blocks"]
    assert extract.frame.columns == list(EXTRACT_SCHEMA)


# n/a changes ------------------------------------------------------------------------------------------------


def test_n_a_changes_give_no_previous_value(catalog: Catalog) -> None:
    text = (CASES / "na_changes_2023.txt").read_text(encoding="utf-8")
    extract = extract_oci_profile(
        text, source_id="na", edition=2023, previous_edition=2021, countries=["NL"], catalog=catalog
    )
    assert extract.problems == []
    frame = extract.frame
    previous = set(frame.filter(pl.col("year") == 2021)["indicator_id"])
    new_in_2023 = {
        "oci.extortion_and_protection_racketeering",
        "oci.trade_in_counterfeit_goods",
        "oci.illicit_trade_in_excisable_goods",
        "oci.cyber_dependent_crimes",
        "oci.financial_crimes",
        "oci.private_sector_actors",
        "oci.criminal_actors",
    }
    assert previous.isdisjoint(new_in_2023)
    assert value(frame, "NL", "oci.trade_in_counterfeit_goods", 2023) == 5.00  # printed as "5.00 n/a"
    # Criminality for 2021 needs criminal actors for 2021, which is n/a; resilience has all 12 inputs.
    assert "oci.criminality" not in previous and "oci.resilience" in previous
    assert value(frame, "NL", "oci.criminality", 2023) == 4.97
    assert frame.height == 34 + (34 - 7) + 3


# Parse -> render -> parse -----------------------------------------------------------------------------------


def test_render_reproduces_the_document_and_parses_back(text: str, catalog: Catalog) -> None:
    blocks, problems = parse_oci_profile(text, edition=2025, catalog=catalog)
    assert problems == []
    rendered = render_oci_profile(blocks)
    # Everything up to the website text comes back line for line.
    assert rendered.splitlines() == text.splitlines()[:263]
    again, problems = parse_oci_profile(rendered, edition=2025, catalog=catalog)
    assert problems == []
    assert again == blocks
    assert [b.narrative for b in again] == [b.narrative for b in blocks]


def test_render_writes_n_a_without_a_space(catalog: Catalog) -> None:
    text = (CASES / "na_changes_2023.txt").read_text(encoding="utf-8")
    blocks, _ = parse_oci_profile(text, edition=2023, catalog=catalog)
    again, _ = parse_oci_profile(render_oci_profile(blocks), edition=2023, catalog=catalog)
    assert again == blocks
    assert "5.00n/a" in render_oci_profile(blocks) and "5.00 n/a" not in render_oci_profile(blocks)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("5.330.10", (Decimal("5.33"), Decimal("0.10"))),
        ("2.00-0.50", (Decimal("2.00"), Decimal("-0.50"))),
        ("5.50 n/a", (Decimal("5.50"), None)),
        ("5.50n/a", (Decimal("5.50"), None)),
        ("10.000.50", (Decimal("10.00"), Decimal("0.50"))),
        ("10.00-1.00", (Decimal("10.00"), Decimal("-1.00"))),
        ("8.00.50", None),
        ("5,330.10", None),
        ("5.33", None),
    ],
)
def test_parse_score_line(line: str, expected: tuple | None) -> None:
    assert parse_score_line(line) == expected


cents = st.integers(min_value=100, max_value=1000).map(lambda n: Decimal(n) / 100)
changes = st.none() | st.integers(min_value=-900, max_value=900).map(lambda n: Decimal(n) / 100)


@given(score=cents, change=changes)
def test_score_line_round_trips(score: Decimal, change: Decimal | None) -> None:
    assert parse_score_line(format_score_line(score, change)) == (score, change)

"""Article figures: declared figures read from the bundled documents, and candidates proposed from articles."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
import tomllib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import updating_goldens
from octracker.content.catalog import Catalog, Indicator, load_catalog
from octracker.content.places import load_places
from octracker.errors import SpecError
from octracker.extract.articles import (
    FRAME_SCHEMA,
    extract_declared_figures,
    parse_period,
    propose_candidates,
)
from octracker.extract.numbers import find_numbers, qualifier_before
from octracker.extract.sentences import flatten, normalise, split_sentences

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "pipelines" / "documents"
CASES = ROOT / "tests" / "cases" / "articles"
GOLDEN = CASES / "golden" / "declared_figures.json"
CATALOG = load_catalog(ROOT / "schemas" / "indicators.toml")

DOCS = {
    "000": "000_34df755ec43177fe.txt",
    "002": "002_1048ef5845389a1f.txt",
    "004": "004_dfeb4534944dee1c.txt",
}


def document(key: str) -> str:
    return (DOCUMENTS / DOCS[key]).read_text(encoding="utf-8")


#: The pipeline specs that declare each bundled article's figures (`[[params.figures]]`).
SPECS = {
    "000": "article_narco_paradox.toml",
    "002": "article_judge_letter.toml",
    "004": "article_us_visit.toml",
}


def declared(key: str) -> list[dict]:
    spec = tomllib.loads((ROOT / "pipelines" / SPECS[key]).read_text(encoding="utf-8"))
    return spec["params"]["figures"]


def extract(key: str, text: str | None = None, figures: list[dict] | None = None):
    return extract_declared_figures(
        document(key) if text is None else text,
        figures=declared(key) if figures is None else figures,
        source_id=f"doc_{key}",
        catalog=CATALOG,
        document_name=DOCS[key],
    )


def row(frame: pl.DataFrame, indicator: str, geo: str) -> dict:
    rows = frame.filter((pl.col("indicator_id") == indicator) & (pl.col("geo") == geo)).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def by_year(frame: pl.DataFrame, indicator: str, geo: str, year: int) -> dict:
    rows = frame.filter(
        (pl.col("indicator_id") == indicator) & (pl.col("geo") == geo) & (pl.col("year") == year)
    ).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# Declared figures on the bundled documents.


@pytest.mark.parametrize(
    ("year", "value", "qualifier"),
    [(2021, 90, "approx"), (2022, 110, "exact"), (2023, 116, "exact"), (2024, 44, "exact")],
)
def test_antwerp_cocaine_seizures_from_000(year, value, qualifier):
    result = extract("000")
    assert result.ok, result.problems
    r = by_year(result.frame, "cocaine_seized_tonnes", "BEANR", year)
    assert (r["value"], r["qualifier"], r["unit"]) == (value, qualifier, "tonnes")
    assert (r["period_start"], r["period_end"]) == (dt.date(year, 1, 1), dt.date(year, 12, 31))
    assert r["is_partial"] is False and r["as_of"] is None
    assert r["method"] == "parsed" and r["source_id"] == "doc_000"
    assert str(value) in r["evidence"] and r["evidence"] == r["_raw"]


def test_brussels_shootings_and_deaths_2024_from_000():
    frame = extract("000").frame
    shootings = row(frame, "shootings", "BE-BRU")
    deaths = row(frame, "shooting_deaths", "BE-BRU")
    assert (shootings["value"], shootings["qualifier"], shootings["year"]) == (92, "exact", 2024)
    assert (deaths["value"], deaths["qualifier"], deaths["year"]) == (9, "exact", 2024)
    assert deaths["unit"] == "count" and shootings["_line_no"] == deaths["_line_no"] == 73


def test_homicide_rates_from_000_keep_unknown_years_unknown():
    frame = extract("000").frame
    belgium = row(frame, "homicide_rate_per_100k", "BE")
    assert (belgium["value"], belgium["year"], belgium["period_end"]) == (1.38, 2023, dt.date(2023, 12, 31))
    for geo, value in {"US": 6.8, "BR": 19, "MX": 25}.items():
        r = row(frame, "homicide_rate_per_100k", geo)
        assert r["value"] == value and r["qualifier"] == "exact"
        assert r["period_start"] is None and r["period_end"] is None and r["year"] is None
        assert r["note"] == "The article gives no year for the comparison countries."


def test_evidence_keeps_the_documents_typography_when_the_spec_is_typed_plainly():
    r = row(extract("000").frame, "homicide_rate_per_100k", "BE")
    assert r["evidence"].startswith("Belgium\u2019s homicide rate in 2023")
    assert "people\u2014high for the EU" in r["evidence"] and r["evidence"].endswith("Mexico\u2019s 25.")
    assert r["_line_no"] == 91


def test_murders_and_attempts_from_000():
    r = row(extract("000").frame, "murders_and_attempts", "BE")
    assert (r["value"], r["year"], r["unit"]) == (1461, 2024, "count")


def test_brussels_shootings_2025_from_002_is_a_partial_lower_bound_without_as_of():
    result = extract("002")
    assert result.ok, result.problems
    r = row(result.frame, "shootings", "BE-BRU")
    assert (r["value"], r["qualifier"], r["is_partial"], r["as_of"]) == (60, "lower_bound", True, None)
    assert (r["period_start"], r["period_end"], r["year"]) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31), 2025)
    assert r["_line_no"] == 5


def test_figures_from_004():
    result = extract("004")
    assert result.ok, result.problems
    seized = row(result.frame, "cocaine_seized_tonnes", "BEANR")
    assert (seized["value"], seized["qualifier"], seized["year"], seized["is_partial"]) == (121, "exact", 2023, False)
    shootings = row(result.frame, "shootings", "BE-BRU")
    assert (shootings["value"], shootings["qualifier"]) == (60, "approx")
    assert shootings["is_partial"] is True and shootings["as_of"] == dt.date(2025, 9, 10)
    assert (shootings["period_start"], shootings["period_end"]) == (dt.date(2025, 1, 1), dt.date(2025, 9, 10))
    assert shootings["_line_no"] == 25


@pytest.mark.parametrize("key", sorted(DOCS))
def test_declared_frames_pass_the_canonical_observation_model(key):
    spec = importlib.util.spec_from_file_location("octracker_schema_observation", ROOT / "schemas" / "observation.py")
    observation = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = observation  # pandera resolves the model's annotations through sys.modules
    spec.loader.exec_module(observation)
    frame = extract(key).frame
    assert frame.schema == pl.Schema(FRAME_SCHEMA)
    observation.Observation.validate(frame.drop("_line_no", "_raw"))


def test_declared_figures_match_the_golden_file():
    got = {key: extract(key).frame.to_dicts() for key in sorted(DOCS)}
    rendered = json.loads(json.dumps(got, default=str, ensure_ascii=False))
    if updating_goldens():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(rendered, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert rendered == json.loads(GOLDEN.read_text(encoding="utf-8"))


# Declared figures that must be refused.


def test_an_edited_sentence_is_refused_naming_the_figure_and_document():
    text = document("000").replace("In 2022, that number rose to 110 tons.", "In 2022, that number rose to 111 tons.")
    result = extract("000", text=text)
    assert [p.check for p in result.problems] == ["sentence_not_found"]
    problem = result.problems[0]
    assert "cocaine_seized_tonnes BEANR 2022" in problem.message and DOCS["000"] in problem.message
    assert problem.payload and "110 tons" in problem.payload
    assert len(result.frame) == len(declared("000")) - 1


def figure(**changes) -> dict:
    base = {
        "indicator": "cocaine_seized_tonnes",
        "geo": "BEANR",
        "period": "2021",
        "sentence": "In 2021, nearly 90 tons of cocaine were seized at the port.",
        "value": "nearly 90",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"indicator": "cocaine_tonnes"}, "unknown_indicator"),
        ({"value": "nearly 91"}, "value_not_found"),
        ({"value": "9"}, "value_not_found"),  # a digit inside 90 is not the number written
        ({"value": "tons"}, "bad_value"),
        ({"qualifier": "exact"}, "qualifier_mismatch"),
        ({"qualifier": "roughly"}, "bad_declaration"),
        ({"period": "2021-13"}, "bad_period"),
        ({"period": "2021-12-31/2021-01-01"}, "bad_period"),
        ({"as_of": "2021-06-30"}, "bad_declaration"),  # as_of without partial
        ({"partial": True, "as_of": "2022-01-15"}, "bad_declaration"),  # outside the period
        ({"partial": "yes"}, "bad_declaration"),
        ({"source": "x"}, "bad_declaration"),
        ({"geo": None}, "bad_declaration"),
    ],
)
def test_bad_declarations_are_problems(changes, check):
    result = extract("000", figures=[figure(**changes)])
    assert [p.check for p in result.problems] == [check]
    assert "cocaine" in result.problems[0].message and result.frame.is_empty()


def test_a_declared_passage_gives_its_whole_sentence_as_evidence():
    result = extract("000", figures=[figure(sentence="nearly 90 tons of cocaine were  seized")])
    assert result.frame["evidence"].to_list() == ["In 2021, nearly 90 tons of cocaine were seized at the port."]


def test_a_figure_declared_twice_is_a_problem():
    result = extract("000", figures=[figure(), figure(value="90")])
    assert [p.check for p in result.problems] == ["duplicate_figure"] and len(result.frame) == 1


def test_value_found_as_written_and_qualifier_read_from_the_sentence():
    result = extract("000", figures=[figure(value="90")])  # "nearly" sits in the sentence, not the value
    assert result.ok and result.frame["qualifier"].to_list() == ["approx"]


def test_explicit_agreeing_qualifier_unit_and_range_period():
    result = extract("000", figures=[figure(qualifier="approx", unit="t", period="2021-01-01/2021-12-31")])
    r = result.frame.to_dicts()[0]
    assert (r["qualifier"], r["unit"], r["year"]) == ("approx", "t", 2021)


def test_number_words_and_fractions_as_values():
    third = figure(
        period="2024",
        sentence="By 2024, cocaine seizures dropped sharply to 44 tons—roughly one-third of the previous year.",
        value="roughly one-third",
        indicator="shooting_deaths",
        note="not a real figure: tests a fraction",
    )
    r = extract("000", figures=[third]).frame.to_dicts()[0]
    assert r["value"] == pytest.approx(1 / 3) and r["qualifier"] == "approx"


def test_partial_without_as_of_keeps_the_year_end_and_never_invents_a_date():
    r = extract("000", figures=[figure(partial=True)]).frame.to_dicts()[0]
    assert r["is_partial"] and r["as_of"] is None and r["period_end"] == dt.date(2021, 12, 31)


def test_no_figures_gives_an_empty_frame_with_the_canonical_columns():
    result = extract("000", figures=[])
    assert result.ok and result.frame.is_empty() and result.frame.schema == pl.Schema(FRAME_SCHEMA)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2023", (dt.date(2023, 1, 1), dt.date(2023, 12, 31), 2023)),
        (2023, (dt.date(2023, 1, 1), dt.date(2023, 12, 31), 2023)),
        ("2025-01-01/2025-09-10", (dt.date(2025, 1, 1), dt.date(2025, 9, 10), 2025)),
        ("unknown", (None, None, None)),
    ],
)
def test_parse_period(period, expected):
    assert parse_period(period) == expected


# Sentences.


def test_sentences_cope_with_abbreviations_numbers_and_quotes():
    text = (
        "On January 9, 2023, just after 6:30 p.m., gunmen opened fire. A kilogram sold for around $28,000 in the "
        "U.S. market. The rate was 1.38 per 100,000; there were 1,461 murders. Noem was described within the "
        "U.S. Border Patrol as \u201can ally.\u201d Shots rang out at 10:15 p.m. Police came.\n"
        '"Is this a narco-state?" the judge asks.'
    )
    assert [s.text for s in split_sentences(text)] == [
        "On January 9, 2023, just after 6:30 p.m., gunmen opened fire.",
        "A kilogram sold for around $28,000 in the U.S. market.",
        "The rate was 1.38 per 100,000; there were 1,461 murders.",
        "Noem was described within the U.S. Border Patrol as \u201can ally.\u201d",
        "Shots rang out at 10:15 p.m.",
        "Police came.",
        '"Is this a narco-state?" the judge asks.',
    ]


def test_wrapped_lines_join_and_line_numbers_point_at_the_start():
    text = "Headline without a stop\n\nPolice counted 45 shootings, nine of them\nfatal. Then more.\n"
    sentences = split_sentences(text)
    assert [(s.line_no, s.text) for s in sentences] == [
        (1, "Headline without a stop"),
        (3, "Police counted 45 shootings, nine of them\nfatal."),
        (4, "Then more."),
    ]


def test_normalise_ignores_typography():
    typeset = "Belgium\u2019s rate \u2014 high,\n  \u201cnearly\u201d"
    assert normalise(typeset) == normalise('Belgium\'s rate-high, "nearly"')


# Candidates.


def published(name: str) -> dt.date:
    return tomllib.loads((CASES / f"{name}.txt.meta.toml").read_text(encoding="utf-8"))["published"]


def candidates(text: str, when: dt.date | None):
    return propose_candidates(text, catalog=CATALOG, published=when)


def reading(c) -> tuple:
    return (c.raw, c.indicator_id, c.geo, c.year, c.qualifier, c.is_partial, c.as_of)


def test_candidates_on_004():
    found = candidates(document("004"), dt.date(2025, 9, 10))
    assert [reading(c) for c in found] == [
        ("121", "cocaine_seized_tonnes", "BEANR", 2023, "exact", False, None),
        ("60", "shootings", "BE-BRU", 2025, "approx", True, dt.date(2025, 9, 10)),
    ]
    assert [c.unit for c in found] == ["tonnes", "count"]
    assert all(c.line_no == 25 and c.confidence == 1.0 for c in found)


def test_candidates_on_004_without_a_publication_date_leave_this_year_unknown():
    found = candidates(document("004"), None)
    assert reading(found[1]) == ("60", "shootings", "BE-BRU", None, "approx", True, None)
    assert found[1].confidence < found[0].confidence


def test_candidates_on_002_partial_only_when_the_publication_year_is_known():
    assert candidates(document("002"), None)[0].is_partial is False
    sixty = candidates(document("002"), dt.date(2025, 10, 1))[0]
    assert reading(sixty) == ("60", "shootings", "BE-BRU", 2025, "lower_bound", True, None)


def test_candidates_on_000_find_the_figures():
    got = {(c.raw, c.indicator_id): c for c in candidates(document("000"), None)}
    expected = [
        ("90", "cocaine_seized_tonnes", "BEANR", 2021, "approx"),
        ("110", "cocaine_seized_tonnes", "BEANR", 2022, "exact"),
        ("116", "cocaine_seized_tonnes", "BEANR", 2023, "exact"),
        ("44", "cocaine_seized_tonnes", "BEANR", 2024, "exact"),
        ("92", "shootings", "BE-BRU", 2024, "exact"),
        ("nine", "shooting_deaths", "BE-BRU", 2024, "exact"),
        ("1.38", "homicide_rate_per_100k", "BE", 2023, "exact"),
        ("6.8", "homicide_rate_per_100k", "US", 2023, "exact"),
        ("19", "homicide_rate_per_100k", "BR", 2023, "exact"),
        ("25", "homicide_rate_per_100k", "MX", 2023, "exact"),
        ("1,461", "murders_and_attempts", "BE", 2024, "exact"),
    ]
    for raw, indicator, geo, year, qualifier in expected:
        c = got[(raw, indicator)]
        assert (c.geo, c.year, c.qualifier, c.is_partial) == (geo, year, qualifier, False), raw
    assert got[("nine", "shooting_deaths")].number == 9
    # Place from the sentence beats place from the sentences before it.
    assert got[("92", "shootings")].confidence > got[("116", "cocaine_seized_tonnes")].confidence


def test_candidates_skip_years_dates_ages_money_clock_times_and_percentages():
    raws = {c.raw for c in candidates(document("000"), None)}
    skipped = {
        "2011",
        "2018",
        "2020",
        "2021",
        "2022",
        "2023",
        "2024",
        "2025",
        "2026",
        "9",
        "11",
        "12",
        "28,000",
        "40,000",
        "6",
        "30",
        "416",
        "2.4",
        "100,000",
        "26",
        "one",
        "three",
        "six",
    }
    assert not raws & skipped
    assert raws == {
        "100",
        "1",
        "42",
        "90",
        "110",
        "116",
        "44",
        "92",
        "nine",
        "1.38",
        "6.8",
        "19",
        "25",
        "12 million",
        "1,461",
        "541",
    }


def test_candidates_on_a_rotterdam_wire_report():
    text = (CASES / "rotterdam_seizures.txt").read_text(encoding="utf-8")
    found = candidates(text, published("rotterdam_seizures"))
    assert [reading(c) for c in found] == [
        ("46", "cocaine_seized_tonnes", "NLRTM", 2023, "exact", False, None),
        ("52.3", "cocaine_seized_tonnes", "NLRTM", 2022, "exact", False, None),  # "the year before"
        ("28", "cocaine_seized_tonnes", "NLRTM", 2024, "approx", True, dt.date(2024, 12, 19)),  # "By 19 December"
        ("37", "shootings", "NL", 2023, "exact", False, None),
        ("20", "shootings", "NLRTM", 2024, "lower_bound", True, dt.date(2024, 6, 30)),  # "in the first half"
        ("0.7", "homicide_rate_per_100k", "NL", 2022, "approx", False, None),
    ]
    assert found[0].number == 46 and found[1].number == 52.3 and found[-1].unit == "per 100,000 people"


def test_candidates_on_a_brussels_news_item():
    text = (CASES / "brussels_shootings.txt").read_text(encoding="utf-8")
    when = published("brussels_shootings")
    found = candidates(text, when)
    assert [reading(c) for c in found] == [
        ("45", None, "BE-BRU", 2025, "exact", True, when),  # the headline: no noun, proposed unmatched
        ("45", "shootings", "BE-BRU", 2025, "exact", True, when),
        ("89", "shootings", "BE-BRU", 2023, "exact", False, None),
        ("92", "shootings", "BE-BRU", 2024, "exact", False, None),  # "… and 92 in 2024" counts the same
        ("7", None, "BE-BRU", 2025, "lower_bound", True, when),  # "Since January": as of publication
        ("3,000", None, "BE-BRU", None, "approx", False, None),
        ("1.38", "homicide_rate_per_100k", "BE", 2023, "exact", False, None),
        ("0.7", "homicide_rate_per_100k", "NL", 2023, "exact", False, None),
        ("44", "cocaine_seized_tonnes", "BEANR", 2024, "exact", False, None),  # "last year"
    ]
    headline, body = found[0], found[1]
    assert headline.line_no == 1 and body.line_no == 5 and body.confidence > headline.confidence
    assert found[3].confidence < found[2].confidence  # carried over, no unit of its own


def test_candidate_ids_are_short_stable_and_distinct():
    text = (CASES / "brussels_shootings.txt").read_text(encoding="utf-8")
    first = candidates(text, published("brussels_shootings"))
    again = candidates(text, published("brussels_shootings"))
    ids = [c.candidate_id for c in first]
    assert ids == [c.candidate_id for c in again]
    assert len(set(ids)) == len(ids) and all(len(i) == 12 for i in ids)


def test_candidates_confidence_is_between_zero_and_one():
    for key in DOCS:
        assert all(0 < c.confidence <= 1 for c in candidates(document(key), dt.date(2025, 9, 10)))


def test_percentages_are_kept_for_an_indicator_measured_in_percent():
    share = Indicator(
        id="containers_scanned_share",
        name="Containers scanned",
        unit="%",
        direction="down_is_bad",
        frequency="annual",
        min=0,
        max=100,
        aliases=("of containers",),
    )
    catalog = Catalog((*CATALOG.indicators, share), CATALOG.path)
    text = (CASES / "rotterdam_seizures.txt").read_text(encoding="utf-8")
    found = [c for c in propose_candidates(text, catalog=catalog, published=None) if c.unit == "%"]
    assert [(c.raw, c.indicator_id, c.qualifier) for c in found] == [("8", "containers_scanned_share", "approx")]
    assert not [c for c in candidates(text, None) if c.raw in {"8", "2", "15"}]


# Places.


def test_places_from_the_gazetteer():
    places = load_places(ROOT / "schemas" / "places.toml")
    found = places.find("Noem, the U.S. homeland chief, backing us up at the Port of Antwerp and in The Netherlands")
    assert [(m.name, m.geo) for m in found] == [("U.S.", "US"), ("Port of Antwerp", "BEANR"), ("The Netherlands", "NL")]


def test_a_new_place_is_data_only(tmp_path):
    gazetteer = (ROOT / "schemas" / "places.toml").read_text(encoding="utf-8")
    path = tmp_path / "places.toml"
    path.write_text(gazetteer + '\n[[place]]\ngeo = "BEZEE"\nkind = "port"\nnames = ["Zeebrugge"]\n', encoding="utf-8")
    found = propose_candidates(
        "Customs seized 5 tonnes of cocaine at Zeebrugge in 2023.",
        catalog=CATALOG,
        published=None,
        places=load_places(path),
    )
    assert [(c.indicator_id, c.geo, c.year) for c in found] == [("cocaine_seized_tonnes", "BEZEE", 2023)]


def test_an_edited_gazetteer_is_read_again_though_its_modification_time_is_the_same(tmp_path):
    # A long-lived process (the scheduler) keeps the gazetteer by what the file holds, not by its time: a copy that
    # keeps times, or a build that sets every file's alike, leaves the time of an edited file as it was.
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas", ignore=shutil.ignore_patterns("__pycache__"))
    catalog = load_catalog(tmp_path / "schemas" / "indicators.toml")
    path = tmp_path / "schemas" / "places.toml"
    text = "Customs seized 5 tonnes of cocaine at Zeebrugge in 2023."

    def readings() -> list[tuple]:
        return [(c.indicator_id, c.geo, c.year) for c in propose_candidates(text, catalog=catalog, published=None)]

    assert readings() == [("cocaine_seized_tonnes", None, 2023)]
    times = path.stat().st_atime_ns, path.stat().st_mtime_ns
    with path.open("a", encoding="utf-8") as gazetteer:
        gazetteer.write('\n[[place]]\ngeo = "BEZEE"\nkind = "port"\nnames = ["Zeebrugge"]\n')
    os.utime(path, ns=times)
    assert readings() == [("cocaine_seized_tonnes", "BEZEE", 2023)]


def test_a_bad_gazetteer_is_refused_with_its_path(tmp_path):
    path = tmp_path / "places.toml"
    path.write_text('[kinds]\nport = 3\n[[place]]\ngeo = "XX"\nkind = "moon"\nnames = ["Nowhere"]\n')
    with pytest.raises(SpecError, match="places.toml: place #1 .*kind 'moon'"):
        load_places(path)


# Numbers and qualifiers.


@pytest.mark.parametrize(
    ("before", "qualifier"),
    [
        ("nearly ", "approx"),
        ("some ", "approx"),
        ("roughly ", "approx"),
        ("about ", "approx"),
        ("approximately ", "approx"),
        ("around ", "approx"),
        ("over ", "lower_bound"),
        ("more than ", "lower_bound"),
        ("at least ", "lower_bound"),
        ("less than ", "upper_bound"),
        ("under ", "upper_bound"),
        ("fewer than ", "upper_bound"),
        ("up to ", "upper_bound"),
        ("no more than ", "upper_bound"),
        ("nearly a ", "approx"),
        ("rose to ", "exact"),
        ("a record ", "exact"),
        ("", "exact"),
    ],
)
def test_qualifier_words(before, qualifier):
    assert qualifier_before(f"Police counted {before}") == qualifier


@given(st.integers(min_value=0, max_value=10**9))
def test_thousands_separators_round_trip(n):
    (mention,) = find_numbers(f"there were {n:,} cases")
    assert mention.value == n and mention.raw == f"{n:,}"


@given(st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False))
def test_decimals_round_trip(d):
    (mention,) = find_numbers(f"a rate of {d} today")
    assert mention.value == pytest.approx(float(d))


def test_a_rate_with_a_space_separated_base():
    found = candidates("The murder rate in Mexico was about 25 per 100 000 residents in 2023.", None)
    assert [(reading(c), c.unit) for c in found] == [
        (("25", "homicide_rate_per_100k", "MX", 2023, "approx", False, None), "per 100,000 people")
    ]


def test_empty_and_number_free_texts():
    assert candidates("", None) == [] and candidates("No figures here. None at all.\n\n", None) == []
    assert [p.check for p in extract("000", text="", figures=[figure()]).problems] == ["sentence_not_found"]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab AU.S,?!\n\u201c\u201d\"'-\u2014019%$:")) | st.characters(), max_size=200)
)
def test_sentences_are_exact_ordered_spans_of_any_text(text):
    previous_end = 0
    for s in split_sentences(text):
        assert s.text == text[s.start : s.end] and s.text.strip() == s.text and s.text
        assert s.start >= previous_end and s.line_no == text.count("\n", 0, s.start) + 1
        previous_end = s.end


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("In 2024 Brussels saw nearly 92 shootings, 1,461 at 6:30 p.m. $%.-\n")),
        max_size=200,
    )
)
def test_candidates_never_fail_and_stay_in_bounds(text):
    for c in candidates(text, dt.date(2024, 6, 1)):
        assert 0 < c.confidence <= 1 and c.qualifier in {"exact", "approx", "lower_bound", "upper_bound"}
        assert c.raw in flatten(c.sentence) and (c.as_of is None or c.is_partial)

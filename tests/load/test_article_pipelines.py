"""The article pipelines end to end through `octracker refresh`: figures, evidence, precedence, conflicts, curation."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import pytest

from conftest import DOCUMENTS, REPO, query, run_cli

NARCO = "vocal-2025-belgium-narco-paradox"
JUDGE = "news-2025-antwerp-judge-letter"
VISIT = "news-2025-09-us-visit-antwerp"
CASES = REPO / "tests" / "cases" / "articles"
REASON_START = "121 t is the 2023 total of the merged port of Antwerp-Bruges"

#: Every figure the issue lists: (indicator, geo, year, source, value, qualifier, partial, as_of).
FIGURES = [
    ("cocaine_seized_tonnes", "BEANR", 2021, NARCO, 90, "approx", False, None),
    ("cocaine_seized_tonnes", "BEANR", 2022, NARCO, 110, "exact", False, None),
    ("cocaine_seized_tonnes", "BEANR", 2023, NARCO, 116, "exact", False, None),
    ("cocaine_seized_tonnes", "BEANR", 2024, NARCO, 44, "exact", False, None),
    ("shootings", "BE-BRU", 2024, NARCO, 92, "exact", False, None),
    ("shooting_deaths", "BE-BRU", 2024, NARCO, 9, "exact", False, None),
    ("homicide_rate_per_100k", "BE", 2023, NARCO, 1.38, "exact", False, None),
    ("homicide_rate_per_100k", "US", None, NARCO, 6.8, "exact", False, None),
    ("homicide_rate_per_100k", "BR", None, NARCO, 19, "exact", False, None),
    ("homicide_rate_per_100k", "MX", None, NARCO, 25, "exact", False, None),
    ("murders_and_attempts", "BE", 2024, NARCO, 1461, "exact", False, None),
    ("shootings", "BE-BRU", 2025, JUDGE, 60, "lower_bound", True, None),
    ("shootings", "BE-BRU", 2025, VISIT, 60, "approx", True, dt.date(2025, 9, 10)),
    ("cocaine_seized_tonnes", "BEANR+BEZEE", 2023, VISIT, 121, "exact", False, None),
]


#: The rows read from the articles (the project's pipelines also load statistics publishers' tables).
ARTICLES = "source_id IN (SELECT source_id FROM sources WHERE pipeline LIKE 'article_%')"


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """The real project refreshed once into a warehouse of this module's own."""
    from octracker.store.settings import build_settings

    settings = build_settings(project=REPO, warehouse=tmp_path_factory.mktemp("wh") / "octracker.duckdb", environ={})
    result = run_cli(settings, "refresh")
    assert result.exit_code == 0, result.output
    return settings


def article_rows(settings, where: str = "TRUE") -> list[tuple]:
    return query(
        settings,
        "SELECT indicator_id, geo, year, source_id, value, qualifier, is_partial, as_of "
        f"FROM observations WHERE indicator_id NOT LIKE 'oci.%' AND {ARTICLES} AND {where} "
        "ORDER BY ALL",
    )


def remove_curation(settings) -> str:
    """Take the [[curation]] table out of the US-visit spec; returns the spec as it was."""
    spec = settings.pipelines_dir / "article_us_visit.toml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text[: text.index("[[curation]]")], encoding="utf-8")
    return text


# Figures, evidence and sources.


def test_refresh_loads_every_declared_figure_with_its_qualifier_and_period(refreshed):
    rows = article_rows(refreshed)
    assert len(rows) == len(FIGURES) and set(rows) == set(FIGURES)


def test_full_years_span_the_year_and_partial_years_end_on_their_as_of_date(refreshed):
    periods = dict(
        ((i, g, s), (start, end))
        for i, g, s, start, end in query(
            refreshed,
            "SELECT indicator_id, geo, source_id, period_start, period_end FROM observations "
            "WHERE indicator_id = 'shootings' AND year = 2025",
        )
    )
    # 004 counted to the day of the visit; 002 states no date: its year keeps its end, its as_of stays unknown.
    assert periods[("shootings", "BE-BRU", VISIT)] == (dt.date(2025, 1, 1), dt.date(2025, 9, 10))
    assert periods[("shootings", "BE-BRU", JUDGE)] == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    unknown = query(
        refreshed,
        "SELECT geo, period_start, period_end, year FROM observations "
        "WHERE indicator_id = 'homicide_rate_per_100k' AND geo <> 'BE' ORDER BY geo",
    )
    assert unknown == [("BR", None, None, None), ("MX", None, None, None), ("US", None, None, None)]
    assert not query(refreshed, "SELECT * FROM series WHERE indicator_id = 'homicide_rate_per_100k' AND geo <> 'BE'")


def test_evidence_is_the_exact_sentence_of_the_document_and_method_is_parsed(refreshed):
    files = dict(query(refreshed, "SELECT source_id, file_name FROM sources"))
    rows = query(
        refreshed,
        "SELECT source_id, evidence, method, value FROM observations "
        f"WHERE indicator_id NOT LIKE 'oci.%' AND {ARTICLES}",
    )
    for source_id, evidence, method, value in rows:
        text = (DOCUMENTS / files[source_id]).read_text(encoding="utf-8")
        assert evidence in text, evidence
        # A whole sentence: it starts a line or follows a sentence end, and ends with its stop.
        start = text.index(evidence)
        assert (start == 0 or text[start - 1] in "\n ") and evidence[-1] in ".!?"
        assert method == ("curated" if value == 121 else "parsed")
    (evidence,) = query(
        refreshed,
        "SELECT evidence FROM observations WHERE indicator_id = 'cocaine_seized_tonnes' "
        "AND year = 2023 AND source_id = ?",
        [NARCO],
    )[0]
    assert evidence == "In 2023, 116 tons."


def test_sources_hold_each_articles_metadata(refreshed):
    rows = {
        r[0]: r[1:]
        for r in query(
            refreshed,
            "SELECT source_id, kind, title, publisher, published_on, published_precision, precedence, "
            "pipeline FROM sources WHERE kind = 'article' ORDER BY source_id",
        )
    }
    assert rows[NARCO] == (
        "article",
        "Belgium’s Narco Paradox: How Europe’s Political Heart Became a Criminal Crossroads",
        "Vocal Media (Criminal), by Lawrence Lease",
        None,
        "unknown",
        30,
        "article_narco_paradox",
    )
    assert rows[VISIT][3:] == (dt.date(2025, 9, 1), "month", 30, "article_us_visit")
    assert rows[JUDGE][3:] == (dt.date(2025, 1, 1), "year", 30, "article_judge_letter")


# Precedence and conflicts.


def test_before_curation_116_and_121_conflict_and_the_newer_dated_source_wins(scratch_project):
    settings = scratch_project
    remove_curation(settings)
    assert run_cli(settings, "refresh").exit_code == 0
    conflicts = query(settings, 'SELECT indicator_id, geo, year, "values", source_ids FROM source_conflicts')
    assert conflicts == [("cocaine_seized_tonnes", "BEANR", 2023, [121.0, 116.0], [VISIT, NARCO])]
    # Both are press (precedence 30); 004 is dated 2025-09, 000 has no date, so it ranks as older.
    assert query(
        settings,
        "SELECT value, source_id, n_sources FROM series WHERE indicator_id = "
        "'cocaine_seized_tonnes' AND geo = 'BEANR' AND year = 2023",
    ) == [(121.0, VISIT, 2)]


def test_curation_ends_the_conflict_and_keeps_the_claim_in_history_with_the_reason(scratch_project):
    settings = scratch_project
    spec = remove_curation(settings)
    run_cli(settings, "refresh")
    (settings.pipelines_dir / "article_us_visit.toml").write_text(spec, encoding="utf-8")
    result = run_cli(settings, "refresh", "article_us_visit", "--json")
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.output)
    assert (summary["new"], summary["retracted"], summary["unchanged"]) == (1, 1, 1)
    assert query(settings, "SELECT * FROM source_conflicts") == []
    assert query(
        settings,
        "SELECT value, source_id, n_sources FROM series WHERE indicator_id = "
        "'cocaine_seized_tonnes' AND geo = 'BEANR' AND year = 2023",
    ) == [(116.0, NARCO, 1)]
    ((value, method, note, evidence),) = query(
        settings, "SELECT value, method, note, evidence FROM observations WHERE geo = 'BEANR+BEZEE'"
    )
    assert (value, method) == (121.0, "curated") and note.startswith(REASON_START)
    assert evidence.startswith("Belgium confiscated a record 121 metric tons")
    claims = query(
        settings,
        "SELECT geo, value, method, note, valid_to IS NULL FROM observation_history "
        "WHERE source_id = ? AND indicator_id = 'cocaine_seized_tonnes' AND geo = 'BEANR' "
        "ORDER BY valid_from",
        [VISIT],
    )
    # The claim as first loaded, closed by the curation; then the claim with the reason, never current.
    assert [(g, v, m, c) for g, v, m, _, c in claims] == [("BEANR", 121.0, "parsed", False)] * 2
    assert claims[0][3] is None
    assert claims[1][3] == f"Curated to cocaine_seized_tonnes at BEANR+BEZEE: {note}"
    again = json.loads(run_cli(settings, "refresh", "article_us_visit", "--json").output)[0]
    assert (again["new"], again["revised"], again["retracted"], again["unchanged"]) == (0, 0, 0, 2)


def test_a_fresh_warehouse_keeps_the_curated_claim_as_a_version_that_was_never_current(refreshed):
    rows = query(
        refreshed,
        "SELECT method, geo, valid_from = valid_to, valid_to IS NULL, note FROM "
        "observation_history WHERE source_id = ? AND value = 121 ORDER BY method",
        [VISIT],
    )
    assert [r[:4] for r in rows] == [("curated", "BEANR+BEZEE", None, True), ("parsed", "BEANR", True, False)]
    assert rows[1][4].startswith("Curated to cocaine_seized_tonnes at BEANR+BEZEE: " + REASON_START)
    known_now = query(
        refreshed,
        "SELECT geo FROM observation_history WHERE source_id = ? AND value = 121 AND "
        "valid_from <= now() AND (valid_to IS NULL OR valid_to > now())",
        [VISIT],
    )
    assert known_now == [("BEANR+BEZEE",)]
    assert query(
        refreshed, "SELECT indicator_id, geo, claimed_indicator_id, claimed_geo, value, source_id FROM curations"
    ) == [("cocaine_seized_tonnes", "BEANR+BEZEE", "cocaine_seized_tonnes", "BEANR", 121.0, VISIT)]


def test_without_curation_both_values_are_in_series_only_once_each_geo(refreshed):
    rows = query(
        refreshed,
        "SELECT geo, value, n_sources FROM series WHERE indicator_id = "
        "'cocaine_seized_tonnes' AND year = 2023 ORDER BY geo",
    )
    assert rows == [("BEANR", 116.0, 1), ("BEANR+BEZEE", 121.0, 1)]


def add_article(settings, name: str, figures: str) -> None:
    """Bundle one of the made-up test articles in a scratch project, with a spec declaring `figures`."""
    for suffix in ("", ".meta.toml"):
        shutil.copy(CASES / f"{name}.txt{suffix}", settings.pipelines_dir / "documents" / f"{name}.txt{suffix}")
    (settings.pipelines_dir / f"test_{name}.toml").write_text(
        f'extractor = "article_figures"\ndocument = "documents/{name}.txt"\nprecedence = 30\n{figures}',
        encoding="utf-8",
    )


def test_a_whole_year_beats_a_partial_count_and_partial_counts_without_a_date_are_never_compared(scratch_project):
    settings = scratch_project
    add_article(
        settings,
        "brussels_year_review",
        """
[[params.figures]]
indicator = "shootings"
geo = "BE-BRU"
period = "2025"
sentence = "Brussels recorded 118 shootings in 2025, the federal police said in its year-end review"
value = "118"

[[params.figures]]
indicator = "shootings"
geo = "BE-BRU"
period = "2024"
sentence = "In 2024 the capital counted 92 shootings, a figure the review confirms."
value = "92"
""",
    )
    add_article(
        settings,
        "brussels_midyear",
        """
[[params.figures]]
indicator = "shootings"
geo = "BE-BRU"
period = "2025"
sentence = "So far this year, Brussels has seen about 70 shootings, prosecutors say"
value = "about 70"
partial = true
""",
    )
    result = run_cli(settings, "refresh")
    assert result.exit_code == 0, result.output
    # The undated review's whole year wins over the counts of part of 2025 dated 2025 (002, the mid-year item).
    assert query(
        settings,
        "SELECT value, source_id, is_partial, n_sources FROM series WHERE indicator_id = "
        "'shootings' AND period_end = DATE '2025-12-31'",
    ) == [(118.0, "tests-brussels-year-review", False, 3)]
    # 70 "so far" with no date is neither in conflict with 118 nor with anything else; 92 agrees with 000.
    assert query(settings, "SELECT * FROM source_conflicts WHERE indicator_id = 'shootings'") == []
    assert query(settings, "SELECT value, n_sources FROM series WHERE indicator_id = 'shootings' AND year = 2024") == [
        (92.0, 2)
    ]
    (midyear,) = query(
        settings,
        "SELECT value, qualifier, is_partial, as_of FROM observations WHERE source_id = 'tests-brussels-midyear'",
    )
    assert midyear == (70.0, "approx", True, None)


# A changed document.


def test_a_document_that_lost_a_declared_sentence_fails_naming_the_figure_and_loads_nothing(scratch_project):
    settings = scratch_project
    assert run_cli(settings, "refresh").exit_code == 0
    before = query(settings, "SELECT * FROM observation_history ORDER BY ALL")
    doc = settings.pipelines_dir / "documents" / "000_34df755ec43177fe.txt"
    text = doc.read_text(encoding="utf-8")
    # Two edits: one declared sentence is gone, another figure changed (which alone would be a revision).
    doc.write_text(
        text.replace("In 2023, 116 tons.", "In 2023, 117 tons.").replace(
            "In 2022, that number rose to 110 tons.", "In 2022, that number rose to 111 tons."
        ),
        encoding="utf-8",
    )
    result = run_cli(settings, "refresh")
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert (
        "figure cocaine_seized_tonnes BEANR 2023: the declared sentence is not in 000_34df755ec43177fe.txt" in message
    )
    assert "figure cocaine_seized_tonnes BEANR 2022" in message and "nothing from it was loaded" in message
    # Nothing half-loaded: no figure of 000 revised, added or retracted; the other pipelines ran.
    assert query(settings, "SELECT * FROM observation_history ORDER BY ALL") == before
    runs = dict(
        query(
            settings,
            "SELECT pipeline, status FROM runs QUALIFY ROW_NUMBER() OVER "
            "(PARTITION BY pipeline ORDER BY started_at DESC) = 1",
        )
    )
    assert runs["article_narco_paradox"] == "failed" and runs["article_us_visit"] == "success"
    checks = query(
        settings,
        "SELECT check_name, file_name, line_no, payload FROM quarantine WHERE pipeline = 'article_narco_paradox' "
        "ORDER BY line_no",
    )
    assert [(c, f) for c, f, _, _ in checks] == [("sentence_not_found", "000_34df755ec43177fe.txt")] * 2
    assert any("In 2023, 116 tons." in payload for *_, payload in checks)


def test_a_document_that_never_matched_loads_nothing_from_it(scratch_project):
    settings = scratch_project
    doc = settings.pipelines_dir / "documents" / "002_1048ef5845389a1f.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("over 60 shooting", "over 70 shooting"), encoding="utf-8")
    result = run_cli(settings, "refresh")
    assert result.exit_code == 2
    assert re.search(
        r"figure shootings BE-BRU 2025: the declared sentence is not in\s+002_1048ef5845389a1f\.txt", result.output
    )
    assert query(settings, "SELECT COUNT(*) FROM observations WHERE source_id = ?", [JUDGE]) == [(0,)]
    assert query(settings, "SELECT COUNT(*) FROM sources WHERE source_id = ?", [JUDGE]) == [(0,)]
    assert query(settings, "SELECT COUNT(*) FROM observations WHERE source_id = ?", [NARCO]) == [(11,)]


def test_a_curation_whose_figure_is_gone_refuses_the_document(scratch_project):
    settings = scratch_project
    spec = settings.pipelines_dir / "article_us_visit.toml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace('period = "2023"\nto_geo', 'period = "2022"\nto_geo'), encoding="utf-8"
    )
    result = run_cli(settings, "refresh", "article_us_visit")
    assert result.exit_code == 2
    assert (
        "curation_unmatched: curation of cocaine_seized_tonnes BEANR 2022 matches no figure read from "
        "004_dfeb4534944dee1c.txt" in " ".join(result.output.split())
    )
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('to_geo = "BEANR+BEZEE"\n', ""), "it moves nothing"),
        (lambda t: t.replace("reason = ", "why = "), "missing reason; unknown key(s) why"),
        (lambda t: t.replace('to_geo = "BEANR+BEZEE"', 'to_geo = "BEANR"'), "it moves nothing"),
    ],
)
def test_a_bad_curation_is_refused_with_the_spec_and_what_to_fix(scratch_project, change, message):
    spec = scratch_project.pipelines_dir / "article_us_visit.toml"
    spec.write_text(change(spec.read_text(encoding="utf-8")), encoding="utf-8")
    result = run_cli(scratch_project, "refresh")
    assert result.exit_code == 2
    assert "article_us_visit.toml: [[curation]] #1" in result.output and message in " ".join(result.output.split())


def test_curated_geography_must_be_a_known_identifier_form(scratch_project):
    spec = scratch_project.pipelines_dir / "article_us_visit.toml"
    spec.write_text(spec.read_text(encoding="utf-8").replace('"BEANR+BEZEE"', '"BEZEE+BEANR"'), encoding="utf-8")
    result = run_cli(scratch_project, "refresh", "article_us_visit")
    assert result.exit_code == 2
    assert "port group lists its UN/LOCODEs once each, in alphabetical order" in " ".join(result.output.split())

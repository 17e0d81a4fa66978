"""The review queue: candidates from new articles, listed, accepted into observations or rejected."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from conftest import DOCUMENTS, REPO, query, run_cli
from octracker.content.catalog import load_catalog
from octracker.content.documents import Document, read_document
from octracker.load.review import record_candidates
from octracker.store.history import upsert_observations
from octracker.store.runs import finish_run, start_run
from octracker.store.warehouse import open_writer, prepare_warehouse, publish

CASES = REPO / "tests" / "cases" / "articles"
BRUSSELS = CASES / "brussels_shootings.txt"
ROTTERDAM = CASES / "rotterdam_seizures.txt"


def ingest_article(settings, document: Document | Path) -> int:
    """What `octracker ingest` does with an article, reduced to the review hook: one run, one transaction."""
    document = read_document(document) if isinstance(document, Path) else document
    with open_writer(settings) as con:
        prepare_warehouse(con, settings, load_catalog(settings.schemas_dir / "indicators.toml"))
        run_id = start_run(con, "inbox", "manual")
        con.execute("BEGIN TRANSACTION")
        count = record_candidates(con, document, settings, run_id)
        finish_run(con, run_id, status="success")
        con.execute("COMMIT")
        publish(con, settings)
    return count


def with_source_id(path: Path, source_id: str, **meta) -> Document:
    document = read_document(path)
    return dataclasses.replace(document, meta=dataclasses.replace(document.meta, source_id=source_id, **meta))


def pending(settings) -> list[dict]:
    result = run_cli(settings, "review", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def find(rows: list[dict], raw: str, indicator_id: str | None) -> dict:
    (row,) = [r for r in rows if r["raw"] == raw and r["indicator_id"] == indicator_id]
    return row


def test_an_article_becomes_a_source_and_candidates_never_observations(settings):
    assert ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels")) == 9
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    assert query(
        settings, "SELECT source_id, kind, title, published_on, published_precision, precedence FROM sources"
    ) == [
        (
            "tests-brussels",
            "article",
            "Brussels shootings: 45 so far this year as police zones prepare to merge",
            dt.date(2025, 6, 2),
            "day",
            30,
        )
    ]
    rows = pending(settings)
    assert len(rows) == 9 and {r["status"] for r in rows} == {"pending"}
    body = find(rows, "45", "shootings")
    # "so far this year" in an article dated 2 June 2025: partial, as of that day.
    assert (body["geo"], body["year"], body["is_partial"], body["as_of"]) == ("BE-BRU", 2025, True, "2025-06-02")
    assert body["sentence"].startswith("Brussels prosecutors have counted 45 shootings so far this year")
    assert body["line_no"] == 5 and body["unit"] == "count" and 0 < body["confidence"] <= 1
    assert find(rows, "89", "shootings")["is_partial"] is False


def test_the_same_article_twice_adds_no_candidates_and_keeps_decisions(settings):
    document = with_source_id(BRUSSELS, "tests-brussels")
    ingest_article(settings, document)
    rejected = find(pending(settings), "3,000", None)["candidate_id"]
    assert run_cli(settings, "review", "reject", rejected, "--reason", "not a count of a series").exit_code == 0
    assert ingest_article(settings, document) == 0
    assert query(settings, "SELECT status, reason FROM candidates WHERE candidate_id = ?", [rejected]) == [
        ("rejected", "not a count of a series")
    ]
    assert len(pending(settings)) == 8


def test_the_same_sentence_in_two_articles_gives_two_candidates(settings):
    ingest_article(settings, with_source_id(BRUSSELS, "first"))
    ingest_article(settings, with_source_id(BRUSSELS, "second"))
    rows = pending(settings)
    assert len(rows) == 18 and len({r["candidate_id"] for r in rows}) == 18


def test_accept_loads_a_curated_observation_with_the_sentence_as_evidence(settings):
    ingest_article(settings, with_source_id(ROTTERDAM, "tests-rotterdam"))
    candidate = find(pending(settings), "46", "cocaine_seized_tonnes")
    result = run_cli(settings, "review", "accept", candidate["candidate_id"], "--reason", "checked against the text")
    assert result.exit_code == 0, result.output
    assert "cocaine_seized_tonnes at NLRTM for 2023 = 46 tonnes (exact)" in result.output
    ((row),) = query(
        settings,
        "SELECT indicator_id, geo, period_start, period_end, year, value, unit, qualifier, "
        "is_partial, as_of, source_id, method, evidence, note FROM observations",
    )
    assert row == (
        "cocaine_seized_tonnes",
        "NLRTM",
        dt.date(2023, 1, 1),
        dt.date(2023, 12, 31),
        2023,
        46.0,
        "tonnes",
        "exact",
        False,
        None,
        "tests-rotterdam",
        "curated",
        candidate["sentence"],
        f"Accepted in review from candidate {candidate['candidate_id']}: checked against the text",
    )
    assert query(
        settings,
        "SELECT status, reason, decided_at IS NOT NULL FROM candidates WHERE candidate_id = ?",
        [candidate["candidate_id"]],
    ) == [("accepted", "checked against the text", True)]
    assert candidate["candidate_id"] not in {r["candidate_id"] for r in pending(settings)}
    assert query(settings, "SELECT pipeline, status, rows_new FROM runs WHERE pipeline = 'review'") == [
        ("review", "success", 1)
    ]
    assert query(settings, "SELECT geo, value, n_sources FROM series") == [("NLRTM", 46.0, 1)]
    assert query(settings, "SELECT claimed_geo, reason FROM curations") == [(None, row[-1])]


def test_accept_a_partial_candidate_ends_its_period_on_the_as_of_date(settings):
    ingest_article(settings, with_source_id(ROTTERDAM, "tests-rotterdam"))
    candidate = find(pending(settings), "28", "cocaine_seized_tonnes")  # "By 19 December", 2024
    assert run_cli(settings, "review", "accept", candidate["candidate_id"]).exit_code == 0
    assert query(settings, "SELECT period_start, period_end, is_partial, as_of, qualifier FROM observations") == [
        (dt.date(2024, 1, 1), dt.date(2024, 12, 19), True, dt.date(2024, 12, 19), "approx")
    ]


def test_accept_needs_an_indicator_when_the_reader_found_none(settings):
    ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels"))
    headline = find(pending(settings), "45", None)
    result = run_cli(settings, "review", "accept", headline["candidate_id"])
    assert result.exit_code == 2
    assert "has no indicator of its own; pass --indicator" in result.output
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    result = run_cli(settings, "review", "accept", headline["candidate_id"], "--indicator", "shootings")
    assert result.exit_code == 0, result.output
    # The body states the same figure: accepting it too would replace the first; it is refused instead.
    body = find(pending(settings), "45", "shootings")
    result = run_cli(settings, "review", "accept", body["candidate_id"])
    assert result.exit_code == 2 and "already has shootings at BE-BRU for 2025" in " ".join(result.output.split())
    assert query(settings, "SELECT evidence FROM observations") == [(headline["sentence"],)]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--geo", "Brussels"], "geo: str_matches"),
        (["--indicator", "cocaine_seized_tonnes"], "is a number in 'count', but cocaine_seized_tonnes is measured in"),
        (["--indicator", "no_such"], "unknown indicator 'no_such'; the catalog"),
        (["--year", "2024"], "counts part of 2025 (as of 2025-06-02), not of 2024"),
    ],
)
def test_accept_refuses_a_reading_that_does_not_validate(settings, flags, message):
    ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels"))
    body = find(pending(settings), "45", "shootings")
    result = run_cli(settings, "review", "accept", body["candidate_id"], *flags)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    assert query(settings, "SELECT status FROM candidates WHERE candidate_id = ?", [body["candidate_id"]]) == [
        ("pending",)
    ]


def test_rejecting_a_value_another_source_also_states_leaves_that_source_as_the_series(settings):
    ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels"))
    cid = find(pending(settings), "89", "shootings")["candidate_id"]
    assert run_cli(settings, "review", "accept", cid).exit_code == 0
    # The police state the same period (BE-BRU, 2023) with a higher precedence than the article.
    ((stated,),) = query(settings, "SELECT to_json(o) FROM observations AS o")
    police = pl.DataFrame(
        [
            {
                **json.loads(stated),
                "source_id": "police",
                "method": "parsed",
                "value": 91.0,
                "evidence": "police table row 3",
                "note": None,
            }
        ]
    ).with_columns(
        pl.col("period_start", "period_end").str.to_date(),
        pl.col("year").cast(pl.Int32),
        pl.col("as_of").cast(pl.Date),
        pl.col("note").cast(pl.String),
    )
    now = dt.datetime(2026, 1, 1)
    with open_writer(settings) as con:
        con.execute(
            "INSERT INTO sources (source_id, kind, published_precision, sha256, retrieved_at, pipeline, "
            "precedence) VALUES ('police', 'statistics_table', 'unknown', ?, ?, 'p', 50)",
            ["0" * 64, now],
        )
        con.execute("BEGIN TRANSACTION")
        upsert_observations(con, police, pipeline="p", run_id="r", source_ids=["police"], full_snapshot=True, now=now)
        con.execute("COMMIT")
        publish(con, settings)
    assert query(settings, "SELECT value, source_id, n_sources FROM series") == [(91.0, "police", 2)]
    assert run_cli(settings, "review", "reject", cid).exit_code == 0
    assert query(settings, "SELECT value, source_id, n_sources FROM series") == [(91.0, "police", 1)]
    assert query(settings, "SELECT COUNT(*) FROM multi_source_periods") == [(0,)]


def test_a_decision_can_be_changed_but_not_repeated(settings):
    ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels"))
    cid = find(pending(settings), "89", "shootings")["candidate_id"]
    assert run_cli(settings, "review", "reject", cid).exit_code == 0
    again = run_cli(settings, "review", "reject", cid)
    assert again.exit_code == 2 and f"candidate {cid} was already rejected on" in again.output
    # Accepted after all, then rejected again: its observation leaves `observations`, its history stays.
    assert run_cli(settings, "review", "accept", cid).exit_code == 0
    assert query(settings, "SELECT year, value FROM observations") == [(2023, 89.0)]
    result = run_cli(settings, "review", "reject", cid, "--reason", "the 2023 count is from another source")
    assert result.exit_code == 0 and "its observation is retracted" in result.output
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    assert query(settings, "SELECT value, valid_to IS NOT NULL FROM observation_history") == [(89.0, True)]
    assert query(settings, "SELECT status, reason FROM candidates WHERE candidate_id = ?", [cid]) == [
        ("rejected", "the 2023 count is from another source")
    ]
    assert query(
        settings, "SELECT rows_new, rows_retracted FROM runs WHERE pipeline = 'review' ORDER BY started_at"
    ) == [(0, 0), (1, 0), (0, 1)]


def test_an_unknown_candidate_is_a_usage_error(settings):
    ingest_article(settings, with_source_id(BRUSSELS, "tests-brussels"))
    unknown = run_cli(settings, "review", "reject", "0123456789ab")
    assert unknown.exit_code == 2 and "no candidate '0123456789ab'" in unknown.output


def test_so_far_this_year_gets_no_as_of_date_when_the_publication_day_is_not_known(settings):
    # 004 is dated only to its month: the count is partial, but the day it was counted to stays unknown.
    ingest_article(settings, with_source_id(DOCUMENTS / "004_dfeb4534944dee1c.txt", "news-004"))
    shootings = find(pending(settings), "60", "shootings")
    assert (shootings["year"], shootings["is_partial"], shootings["as_of"], shootings["qualifier"]) == (
        2025,
        True,
        None,
        "approx",
    )
    assert find(pending(settings), "121", "cocaine_seized_tonnes")["geo"] == "BEANR"


def test_with_the_publication_day_so_far_this_year_is_as_of_that_day(settings):
    document = with_source_id(
        DOCUMENTS / "004_dfeb4534944dee1c.txt", "news-004", published_on=dt.date(2025, 9, 10), published_precision="day"
    )
    ingest_article(settings, document)
    assert find(pending(settings), "60", "shootings")["as_of"] == "2025-09-10"


def test_unseen_sentences_of_a_declared_article_are_candidates_too(settings):
    # A figure the spec does not declare (the summer count of 002) is proposed, not loaded.
    assert run_cli(settings, "refresh", "article_judge_letter").exit_code == 0
    ingest_article(settings, with_source_id(DOCUMENTS / "002_1048ef5845389a1f.txt", "news-002-review"))
    raws = {(r["raw"], r["indicator_id"]) for r in pending(settings)}
    assert ("20", None) in raws and ("60", "shootings") in raws
    assert query(settings, "SELECT source_id, value FROM observations") == [("news-2025-antwerp-judge-letter", 60.0)]


def test_an_empty_queue_says_how_articles_arrive(settings):
    assert run_cli(settings, "refresh", "oci_2021_belgium").exit_code == 0
    result = run_cli(settings, "review")
    assert result.exit_code == 0 and "No pending candidates" in result.output
    assert run_cli(settings, "review", "--format", "json").output.strip() == "[]"

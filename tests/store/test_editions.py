"""Consistency across index editions: a later edition's published score beside the score an earlier
document derived for the same year — each its own source, agreement visible, disagreement a conflict."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from octracker.load.pipeline import refresh

CASES = Path(__file__).resolve().parents[1] / "cases" / "inbox"
SIDECAR = 'kind = "oci_profile"\ntitle = "GOCI 2023 profiles NL BE"\nedition = 2023\ncountries = ["NL", "BE"]\n'
SOURCE_2023 = "oci-profile-goci-2023-profiles-nl-be"
SOURCE_2025 = "gitoc-oci-2025-nl-be"


@pytest.fixture
def both_editions(settings):
    refresh(settings, ["oci_2025_profiles"])
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "goci-2023.txt").write_bytes((CASES / "oci_2023_profiles_nl_be.txt").read_bytes())
    (settings.inbox_dir / "goci-2023.txt.meta.toml").write_text(SIDECAR)
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    con = duckdb.connect(str(settings.published_path), read_only=True)
    yield con
    con.close()


def test_each_edition_is_its_own_source_for_the_year_they_share(both_editions):
    rows = both_editions.execute(
        "SELECT source_id, method, value FROM observations "
        "WHERE indicator_id = 'oci.cocaine_trade' AND geo = 'BE' AND year = 2023 ORDER BY source_id"
    ).fetchall()
    assert rows == [(SOURCE_2025, "derived", 8.0), (SOURCE_2023, "parsed", 8.0)]


def test_agreement_is_visible_and_series_takes_the_value_published_in_that_edition(both_editions):
    agreeing = both_editions.execute(
        "SELECT COUNT(*) FROM series s WHERE year = 2023 AND n_sources = 2 AND method = 'parsed' "
        "AND source_id = ? AND NOT EXISTS (SELECT 1 FROM source_conflicts c WHERE c.indicator_id = s.indicator_id "
        "AND c.geo = s.geo AND c.year = s.year)",
        [SOURCE_2023],
    ).fetchone()[0]
    # 34 printed indicators x 2 countries, less Belgium's one deliberate disagreement.
    assert agreeing == 67


def test_disagreement_shows_in_source_conflicts_and_series_prefers_the_parsed_value(both_editions):
    conflicts = both_editions.execute(
        'SELECT indicator_id, geo, year, "values", source_ids FROM source_conflicts ORDER BY indicator_id'
    ).fetchall()
    assert conflicts == [
        ("oci.law_enforcement", "BE", 2023, [7.0, 7.5], [SOURCE_2025, SOURCE_2023]),
        # Belgium's 2023 resilience is computed from its 12 components in each document, so it differs too.
        ("oci.resilience", "BE", 2023, [7.04, 7.08], [SOURCE_2025, SOURCE_2023]),
    ]
    picked = both_editions.execute(
        "SELECT value, source_id, method FROM series "
        "WHERE indicator_id = 'oci.law_enforcement' AND geo = 'BE' AND year = 2023"
    ).fetchall()
    assert picked == [(7.5, SOURCE_2023, "parsed")]


def test_the_periods_both_editions_state_are_listed_for_series(both_editions):
    listed = both_editions.execute("SELECT * FROM multi_source_periods ORDER BY ALL").fetchall()
    counted = both_editions.execute(
        "SELECT indicator_id, geo, period_start, period_end FROM observation_history "
        "WHERE valid_to IS NULL AND period_start IS NOT NULL GROUP BY ALL HAVING COUNT(*) > 1 ORDER BY ALL"
    ).fetchall()
    assert listed == counted
    # Every 2023 value of both countries, and nothing else, is stated by both editions.
    assert (
        len(listed)
        == both_editions.execute("SELECT COUNT(*) FROM series WHERE n_sources = 2 AND year = 2023").fetchone()[0]
        == both_editions.execute("SELECT COUNT(*) FROM series WHERE n_sources > 1").fetchone()[0]
        >= 68
    )

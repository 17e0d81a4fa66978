"""Statistics and index tables arriving later: routing by detection, country spellings, revisions and as-of."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from conftest import narrow_shootings
from feed_server import FeedServer, Reply
from octracker.load.inbox import IngestOverrides
from octracker.load.pipeline import ingest_files, refresh
from published import read_rows

CASES = Path(__file__).resolve().parents[1] / "cases" / "inbox"
POLICE = 'publisher = "Brussels police statistics (test)"\n'


def drop(settings, name: str, content: bytes, sidecar: str | None = None) -> Path:
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    path = settings.inbox_dir / name
    path.write_bytes(content)
    if sidecar is not None:
        (settings.inbox_dir / f"{name}.meta.toml").write_text(sidecar)
    return path


def published(settings, sql: str, params=None) -> list[tuple]:
    return read_rows(settings.published_path, sql, params)


# Routing -------------------------------------------------------------------------------------------------------


def test_a_long_csv_without_a_sidecar_is_detected_and_loaded(settings):
    drop(settings, "shootings.csv", (CASES / "shootings_2024_final.csv").read_bytes())
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 3)
    assert published(settings, "SELECT kind, precedence FROM sources WHERE source_id = 'shootings'") == [
        ("observations_long", 80)
    ]
    assert published(
        settings, "SELECT year, value, is_partial FROM series WHERE indicator_id = 'shootings' ORDER BY year"
    ) == [(2023, 61.0, False), (2024, 92.0, False)]


def test_a_parquet_table_is_detected_and_restating_the_same_values_only_moves_the_evidence(settings, tmp_path):
    drop(settings, "final.csv", (CASES / "shootings_2024_final.csv").read_bytes(), POLICE)
    refresh(settings, ["inbox"])
    parquet = tmp_path / "final.parquet"
    pl.read_csv(CASES / "shootings_2024_final.csv", infer_schema=False).write_parquet(parquet)
    drop(settings, "final.parquet", parquet.read_bytes(), POLICE)
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 0)
    assert published(settings, "SELECT kind FROM inbox_files ORDER BY received_at") == [
        ("observations_long",),
        ("observations_long",),
    ]
    # Same source, same values: the current version now cites the Parquet file's row.
    current = published(
        settings, "SELECT value, evidence FROM observations WHERE indicator_id = 'shootings' AND year = 2024"
    )
    assert len(current) == 1 and current[0][0] == 92.0 and "final.parquet" in current[0][1]


def test_a_wide_csv_maps_country_spellings_and_agrees_with_the_profile(settings):
    refresh(settings, ["oci_2025_profiles"])
    drop(
        settings,
        "goci_2025_wide.csv",
        (CASES / "goci_2025_wide.csv").read_bytes(),
        'title = "GOCI 2025 wide export"\nedition = 2025\n',
    )
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 10), result.error
    rows = published(
        settings,
        "SELECT geo, indicator_id, value FROM observations "
        "WHERE source_id = 'oci-wide-goci-2025-wide-export' ORDER BY geo, indicator_id",
    )
    assert {geo for geo, _, _ in rows} == {"BE", "NL"}
    assert ("BE", "oci.cocaine_trade", 8.0) in rows and ("NL", "oci.criminal_markets", 5.33) in rows
    # The same scores from two kinds of document: two sources, no conflict.
    assert published(
        settings, "SELECT n_sources FROM series WHERE indicator_id = 'oci.cocaine_trade' AND geo = 'BE' AND year = 2025"
    ) == [(2,)]
    assert published(settings, "SELECT COUNT(*) FROM source_conflicts") == [(0,)]


def test_a_wide_xlsx_with_other_spellings_takes_the_edition_from_the_flag(settings, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Global Organized Crime Index 2025"])
    sheet.append([])
    sheet.append(["COUNTRY", "Cocaine trade", "HUMAN-TRAFFICKING"])
    sheet.append(["BELGIUM", 8.0, 5.5])
    sheet.append(["NLD", 8.0, 5.5])
    sheet.append(["Holland", 8.0, 5.5])  # the same country twice: refused as a whole
    path = tmp_path / "index.xlsx"
    workbook.save(path)
    [refused] = ingest_files(settings, [drop(settings, "index.xlsx", path.read_bytes())], IngestOverrides(edition=2025))
    assert refused.status == "refused"
    sheet.delete_rows(6)
    workbook.save(path)
    [loaded] = ingest_files(settings, [drop(settings, "index.xlsx", path.read_bytes())], IngestOverrides(edition=2025))
    assert (loaded.status, loaded.counts.new) == ("success", 4), loaded.error
    assert published(settings, "SELECT DISTINCT geo, year FROM observations ORDER BY geo") == [
        ("BE", 2025),
        ("NL", 2025),
    ]


def test_a_parquet_file_that_is_no_long_table_is_refused_as_unrecognised(settings, tmp_path):
    other = tmp_path / "population.parquet"
    pl.DataFrame({"country": ["BE"], "population": [11.7]}).write_parquet(other)
    drop(settings, "population.parquet", other.read_bytes())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused" and "population.parquet: not a recognised file" in result.error


def test_a_wide_table_without_an_edition_is_refused(settings):
    drop(settings, "goci_2025_wide.csv", (CASES / "goci_2025_wide.csv").read_bytes())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused" and "which index edition is this?" in result.error


def test_a_table_with_a_bad_row_is_refused_whole(settings):
    bad = (CASES / "shootings_2024_final.csv").read_text() + "shootings,BE-BRU,2022,sixty-one,count,exact,,,\n"
    drop(settings, "bad.csv", bad.encode(), POLICE)
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.exit_code) == ("refused", 2)
    assert published(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    assert published(settings, "SELECT line_no FROM quarantine WHERE pipeline = 'inbox'") == [(5,)]


# Revisions and as-of ---------------------------------------------------------------------------------------------


def test_a_later_table_revises_a_year_to_date_value_and_as_of_answers_what_was_known(settings):
    drop(settings, "ytd.csv", (CASES / "shootings_2024_ytd.csv").read_bytes(), POLICE)
    [first] = refresh(settings, ["inbox"])
    assert first.counts.new == 3
    yoy = "SELECT value, prev_value, change, basis FROM yoy_changes WHERE indicator_id = 'shootings' AND year = 2024"
    # Year to date: compared with 2023 at its annualized pace, never raw.
    [(value, prev, change, basis)] = published(settings, yoy)
    assert (value, prev, basis) == (89.0, 61.0, "annualized") and change > 89 - 61
    between = published(settings, "SELECT MAX(valid_from) FROM observation_history")[0][0]
    time.sleep(0.01)
    drop(settings, "final.csv", (CASES / "shootings_2024_final.csv").read_bytes(), POLICE)
    [second] = refresh(settings, ["inbox"])
    # 89 (year to date) became 92 (final) and the deaths are no longer partial: two revisions. 2023 is restated
    # as it was, unchanged and not read again: it still cites the year-to-date table, which stated it first.
    assert (second.counts.new, second.counts.revised, second.counts.unchanged) == (0, 2, 1)
    assert published(
        settings, "SELECT evidence LIKE 'ytd.csv%' FROM observations WHERE indicator_id = 'shootings' AND year = 2023"
    ) == [(True,)]
    # Year-over-year changes follow the current value.
    assert published(settings, yoy) == [(92.0, 61.0, 31.0, "full_year")]

    history = published(
        settings,
        "SELECT value, is_partial, valid_to IS NULL FROM observation_history "
        "WHERE indicator_id = 'shootings' AND year = 2024 ORDER BY valid_from",
    )
    assert history == [(89.0, True, False), (92.0, False, True)]
    assert published(
        settings, "SELECT value, is_partial, source_id FROM series WHERE indicator_id = 'shootings' AND year = 2024"
    ) == [(92.0, False, "observations-long-brussels-police-statistics-test")]
    known_then = published(
        settings,
        "SELECT value, is_partial, as_of FROM observations_as_of(?) WHERE indicator_id = 'shootings' AND year = 2024",
        [between],
    )
    assert [(v, p, str(a)) for v, p, a in known_then] == [(89.0, True, "2024-11-30")]
    known_now = published(
        settings,
        "SELECT value FROM observations_as_of(now()::TIMESTAMP) WHERE indicator_id = 'shootings' AND year = 2024",
    )
    assert known_now == [(92.0,)]
    before_anything = published(settings, "SELECT COUNT(*) FROM observations_as_of(TIMESTAMP '2000-01-01')")
    assert before_anything == [(0,)]


def staged(tmp_path: Path, name: str, text: str) -> Path:
    """A table given to `octracker ingest`, with its sidecar, from a folder outside the inbox."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / f"{name}.meta.toml").write_text(POLICE)
    path = outside / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("first_name", "next_name"),
    # An office may name each export by its date: the next edition costs what it costs under the same name.
    [("police.csv", "police.csv"), ("police_2025-01.csv", "police_2025-02.csv")],
)
def test_a_new_edition_given_to_ingest_reads_only_the_rows_that_changed(settings, tmp_path, first_name, next_name):
    first = (CASES / "shootings_2024_final.csv").read_text()
    [loaded] = ingest_files(settings, [staged(tmp_path, first_name, first)], stage=True)
    assert (loaded.status, loaded.counts.new) == ("success", 3)
    header, y2023, y2024, deaths = first.splitlines(keepends=True)
    # The next edition: 2024 corrected, and every row in another place.
    second = header + deaths + y2024.replace(",92,", ",95,") + y2023
    [result] = ingest_files(settings, [staged(tmp_path, next_name, second)], stage=True)
    assert (result.status, result.counts.new, result.counts.revised, result.counts.unchanged) == ("success", 0, 1, 2)
    evidence = dict(
        published(
            settings,
            "SELECT indicator_id || ' ' || year, evidence FROM observations WHERE geo = 'BE-BRU' AND year >= 2023",
        )
    )
    # The unchanged rows were not read again: they still cite where the first edition stated them.
    assert evidence["shootings 2023"].startswith(f"{first_name} line 2: ")
    assert evidence["shooting_deaths 2024"].startswith(f"{first_name} line 4: ")
    assert evidence["shootings 2024"] == f"{next_name} line 3: shootings,BE-BRU,2024,95,count,exact,,,final"


def test_a_new_edition_given_to_ingest_under_new_rules_is_read_in_full(scratch_project, tmp_path):
    settings = scratch_project
    first = (CASES / "shootings_2024_final.csv").read_text()
    ingest_files(settings, [staged(tmp_path, "police.csv", first)], stage=True)
    # The catalog now allows at most 80 shootings: the unchanged 2024 row (92) breaks it and must be found.
    narrow_shootings(settings, 80)
    second = first.replace("shooting_deaths,BE-BRU,2024,9,", "shooting_deaths,BE-BRU,2024,10,")
    [result] = ingest_files(settings, [staged(tmp_path, "police.csv", second)], stage=True)
    assert result.status == "refused"
    assert read_rows(settings.published_path, "SELECT check_name, line_no FROM quarantine") == [("out_of_range", 3)]


def test_as_of_works_through_octracker_sql(settings):
    drop(settings, "ytd.csv", (CASES / "shootings_2024_ytd.csv").read_bytes(), POLICE)
    refresh(settings, ["inbox"])
    from octracker.store.query import run_query

    columns, rows = run_query(
        settings.published_path, "SELECT indicator_id, value FROM observations_as_of(now()::TIMESTAMP) ORDER BY 1, 2"
    )
    assert rows == [("shooting_deaths", 9.0), ("shootings", 61.0), ("shootings", 89.0)]


# Feeds of tables ---------------------------------------------------------------------------------------------------


def write_table_feed(settings, url: str, fmt: str) -> None:
    (settings.pipelines_dir / "police_feed.toml").write_text(
        textwrap.dedent(f"""\
        extractor = "observations_long"
        schedule = "15 6 * * *"
        precedence = 80
        [source]
        source_id = "brussels-police-feed"
        publisher = "Brussels police statistics (test)"
        [feed]
        url = "{url}"
        format = "{fmt}"
        allow_http_hosts = ["127.0.0.1"]
        """)
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_long_table_feed_is_loaded_then_revised(scratch_project, fmt):
    def body(name: str) -> tuple[dict, bytes]:
        csv = (CASES / name).read_bytes()
        if fmt == "csv":
            return {"Content-Type": "text/csv"}, csv
        rows = pl.read_csv(csv, infer_schema=False).to_dicts()
        return {"Content-Type": "application/json"}, json.dumps({"observations": rows}).encode()

    with FeedServer() as server:
        write_table_feed(scratch_project, server.url(f"/shootings.{fmt}"), fmt)
        ytd, final = body("shootings_2024_ytd.csv"), body("shootings_2024_final.csv")
        server.script(Reply(200, {**ytd[0], "ETag": '"1"'}, ytd[1]), Reply(200, {**final[0], "ETag": '"2"'}, final[1]))
        [first] = refresh(scratch_project, ["police_feed"])
        [second] = refresh(scratch_project, ["police_feed"])
    assert (first.status, first.counts.new) == ("success", 3), first.error
    assert (second.status, second.counts.revised) == ("success", 2), second.error
    assert published(scratch_project, "SELECT value FROM series WHERE indicator_id = 'shootings' AND year = 2024") == [
        (92.0,)
    ]
    assert published(scratch_project, "SELECT etag FROM feed_state") == [('"2"',)]
    # Evidence cites the feed's file name and line, not the raw store's hash name.
    [(evidence,)] = published(
        scratch_project, "SELECT evidence FROM series WHERE indicator_id = 'shootings' AND year = 2024"
    )
    assert evidence.startswith("shootings.csv line 3")

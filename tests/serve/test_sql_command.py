"""`octracker sql`: read-only and locked down, readable output, DuckDB's errors as `Error: …` with exit 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import REPO, run_cli, run_octracker
from octracker.store import query


@pytest.mark.parametrize(
    "sql, complaint",
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('{readme}')", "file system operations are disabled"),
        ("SELECT * FROM glob('/*')", "file system operations are disabled"),
        ("SELECT * FROM '{warehouse}'", "file system operations are disabled"),
        ("COPY (SELECT * FROM series) TO '{outside}'", "runs queries only"),
        ("EXPORT DATABASE '{outside_dir}'", "runs queries only"),
        ("ATTACH '{outside_db}' AS other", "runs queries only"),
        ("ATTACH ':memory:' AS scratch", "runs queries only"),
        ("INSTALL httpfs", "runs queries only"),
        ("LOAD httpfs", "runs queries only"),
        ("SET enable_external_access = true", "runs queries only"),
        ("RESET enable_external_access", "runs queries only"),
        ("SET lock_configuration = false", "runs queries only"),
        ("SET memory_limit = '100GB'", "runs queries only"),
        ("SET allow_community_extensions = true", "runs queries only"),
        ("CREATE TABLE mine AS SELECT 1", "runs queries only"),
        ("DELETE FROM observation_history", "runs queries only"),
    ],
)
def test_locked_connection_refuses_file_network_extension_and_write_access(refreshed, tmp_path, sql, complaint):
    outside = tmp_path / "outside"
    sql = sql.format(
        readme=REPO / "README.md",
        warehouse=refreshed.warehouse,
        outside=outside / "leak.csv",
        outside_dir=outside,
        outside_db=outside / "other.duckdb",
    )
    result = run_cli(refreshed, "sql", sql)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and complaint in result.output
    assert "Traceback" not in result.output
    assert not outside.exists()


def test_the_queries_memory_is_limited(refreshed, monkeypatch):
    result = run_cli(refreshed, "sql", "SELECT current_setting('memory_limit') AS m", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)[0]["m"] in ("1.8 GiB", "1.9 GiB", "2.0 GiB")
    monkeypatch.setitem(query.LOCKED_CONFIG, "memory_limit", "32MB")
    result = run_cli(refreshed, "sql", "SELECT length(string_agg(range::VARCHAR, ',')) FROM range(20000000)")
    assert result.exit_code == 2
    assert "Error: Out of Memory Error" in result.output and "narrow the query" in result.output


def test_table_output_aligns_numbers_right_and_prints_document_text_literally(refreshed):
    result = run_cli(
        refreshed,
        "sql",
        "SELECT geo, value, '[bold]not markup[/bold]' AS note FROM series "
        "WHERE indicator_id = 'oci.cocaine_trade' AND geo IN ('BE', 'NL') AND year >= 2023 ORDER BY geo, year",
    )
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "│" in line]
    assert lines[0].split("│")[1].strip() == "BE"
    value_cells = [line.split("│")[2] for line in lines]
    assert value_cells[0] == "     8 " or value_cells[0].endswith("8 ")
    assert value_cells[2].rstrip().endswith("7.5") and value_cells[2].startswith("   ")
    assert "[bold]not markup[/bold]" in result.output


def test_csv_output_quotes_spreadsheet_formulas_and_writes_lists_as_json(refreshed):
    result = run_cli(
        refreshed,
        "sql",
        "SELECT '=HYPERLINK(\"http://x\")' AS f, '+1' AS p, '-2' AS m, '@SUM(A1)' AS a, "
        "'plain' AS t, [1.5, 2] AS l, NULL AS n",
        "--format",
        "csv",
    )
    assert result.exit_code == 0
    header, row = list(csv.reader(io.StringIO(result.output)))
    assert header == ["f", "p", "m", "a", "t", "l", "n"]
    assert row == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "plain", "[1.5, 2.0]", ""]


def test_json_output_is_one_object_per_row_with_iso_dates(refreshed):
    result = run_cli(
        refreshed,
        "sql",
        "SELECT indicator_id, geo, period_start, value FROM series "
        "WHERE indicator_id = 'oci.cocaine_trade' AND geo IN ('BE', 'NL') AND year >= 2023 ORDER BY geo, year",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert rows[0] == {"indicator_id": "oci.cocaine_trade", "geo": "BE", "period_start": "2023-01-01", "value": 8.0}
    assert len(rows) == 4


def test_query_can_come_from_stdin(refreshed):
    result = run_cli(
        refreshed,
        "sql",
        "-",
        "--format",
        "csv",
        input="SELECT COUNT(*) AS n FROM observations WHERE source_id = 'gitoc-oci-2025-nl-be'\n",
    )
    assert result.exit_code == 0 and result.output == "n\n144\n"


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELEC 1", "Error: Parser Error: syntax error"),
        ("SELECT * FROM no_such_view", "Error: Catalog Error: Table with name no_such_view does not exist"),
        ("SELECT 1; SELECT * FROM read_csv('/etc/passwd')", "Error: give exactly one SQL statement, found 2"),
        ("  ;  ", "Error: give exactly one SQL statement, found no statement"),
    ],
)
def test_bad_queries_are_refused_with_exit_2_and_no_traceback(refreshed, sql, message):
    result = run_cli(refreshed, "sql", sql)
    assert result.exit_code == 2
    assert result.output.startswith(message) and "Traceback" not in result.output


def test_debug_shows_the_traceback(refreshed):
    plain = run_octracker(refreshed, "sql", "SELEC 1", timeout=60)
    assert plain.returncode == 2 and plain.stderr.startswith("Error: Parser Error") and "Traceback" not in plain.stderr
    debug = run_octracker(refreshed, "--debug", "sql", "SELEC 1", timeout=60)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr
    assert "InputRefused" in debug.stderr


def test_without_a_published_warehouse_it_says_to_refresh_first(settings):
    result = run_cli(settings, "sql", "SELECT 1")
    assert result.exit_code == 1
    assert "no published warehouse yet; run `octracker refresh` first" in result.output


def test_logging_to_a_file_writes_nothing_outside_the_warehouse(refreshed, tmp_path):
    # DuckDB lets a locked connection switch its logging on, but the log file is still a file outside the
    # warehouse: nothing is written, whether the query enables it alone or together with some work.
    logs = tmp_path / "logs"
    for sql in (
        f"CALL enable_logging(storage='file', storage_path='{logs}')",
        f"SELECT count(*) FROM enable_logging(storage='file', storage_path='{logs}', level='trace'), series",
    ):
        result = run_cli(refreshed, "sql", sql)
        assert result.exit_code in (0, 2) and "Traceback" not in result.output
    assert not logs.exists()


@pytest.mark.parametrize(
    "sql, complaint",
    [
        ("COPY (SELECT 1) TO '{outside}'", "file system operations are disabled"),
        ("SET enable_external_access = true", "the configuration has been locked"),
        ("SET memory_limit = '100GB'", "the configuration has been locked"),
        ("LOAD httpfs", "Loading external extensions is disabled"),
        ("CREATE TABLE mine AS SELECT 1", "read-only"),
    ],
)
def test_beneath_the_statement_check_the_connection_itself_stays_locked(refreshed, tmp_path, sql, complaint):
    outside = tmp_path / "outside.csv"
    with query.locked_reader(refreshed.read_target) as con, pytest.raises(query.duckdb.Error, match=complaint):
        con.execute(sql.format(outside=outside))
    assert not outside.exists()


def test_two_readers_of_the_published_copy_in_one_process_both_open_locked(refreshed):
    # The scheduler reads the copy while its metrics server answers a scrape: both share one DuckDB database.
    with query.locked_reader(refreshed.read_target) as first, query.locked_reader(refreshed.read_target) as second:
        for con in (first, second):
            assert con.execute("SELECT COUNT(*) > 0 FROM series").fetchone() == (True,)
            assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
            with pytest.raises(query.duckdb.Error, match="the configuration has been locked"):
                con.execute("SET enable_external_access = true")

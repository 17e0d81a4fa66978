"""`octracker sql` writes nothing anywhere and cannot take the machine: every statement that is not a query is
refused before it runs, a query that runs too long is stopped, and one that needs too much memory fails.

What must hold afterwards: exit 2 with `Error: ...`, the published copy and its `.wal` byte for byte as before,
no file created anywhere the query named, and the next query answers as before.
"""

from __future__ import annotations

import hashlib
import resource
import time
from pathlib import Path

import pytest
from hostile_fixtures import baseline, cli, loaded, run_octracker  # noqa: F401

from octracker.store import query


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def published_files(settings) -> dict[str, str | None]:
    """The published copy, its write-ahead log and the main warehouse, by content."""
    published = settings.published_path
    wal = published.with_name(published.name + ".wal")
    return {str(p): digest(p) for p in (published, wal, settings.warehouse)}


WRITES_INSIDE = [
    "COPY (SELECT 'x' AS a) TO '{published}' (FORMAT csv, USE_TMP_FILE false)",
    "COPY (SELECT 'x' AS a) TO '{published}.wal' (FORMAT csv, USE_TMP_FILE false)",
    "COPY (SELECT 'x' AS a) TO '{warehouse}' (FORMAT csv, USE_TMP_FILE false)",
    "COPY observation_history TO '{folder}/leak.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{folder}/export'",
    "EXPLAIN ANALYZE COPY (SELECT 'x' AS a) TO '{published}' (FORMAT csv, USE_TMP_FILE false)",
    "explain   analyse\nCOPY (SELECT 1) TO '{published}'",
    "/* hidden */ COPY (SELECT 'x' AS a) TO '{published}' (FORMAT csv)",
    "CHECKPOINT",
    "CALL enable_logging(storage='file', storage_path='{folder}/log')",
    "PIVOT observation_history ON geo",
]


@pytest.mark.parametrize("statement", WRITES_INSIDE)
def test_sql_refuses_every_write_even_to_the_published_copy_itself(loaded, statement):
    before = published_files(loaded)
    folder = loaded.published_path.parent
    listing = sorted(p.name for p in folder.iterdir())
    sql = statement.format(published=loaded.published_path, warehouse=loaded.warehouse, folder=folder)
    result = cli(loaded, "sql", sql)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: "), result.stderr
    assert published_files(loaded) == before
    assert sorted(p.name for p in folder.iterdir()) == listing
    after = cli(loaded, "sql", "SELECT COUNT(*) AS n FROM series", "--format", "csv")
    assert after.exit_code == 0 and int(after.stdout.split()[1]) > 0


def test_the_copy_of_the_report_exits_2_as_its_own_process(loaded):
    before = published_files(loaded)
    statement = f"COPY (SELECT 'x' AS a) TO '{loaded.published_path}' (FORMAT csv, USE_TMP_FILE false)"
    done = run_octracker(loaded, "sql", statement)
    assert done.returncode == 2
    assert "runs queries only" in done.stderr and "COPY" in done.stderr
    assert published_files(loaded) == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('{warehouse}')",
        "SELECT * FROM read_blob('{warehouse}')",
        "SELECT * FROM read_csv('{raw}/*')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM query('COPY (SELECT 1) TO ''{published}''')",
    ],
)
def test_sql_reads_no_file_by_path(loaded, sql):
    raw = loaded.data_dir
    result = cli(loaded, "sql", sql.format(warehouse=loaded.warehouse, raw=raw, published=loaded.published_path))
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ")
    assert "PATH=" not in result.stdout and "DUCK" not in result.stdout


def test_a_long_query_is_stopped_after_the_time_limit(loaded):
    started = time.monotonic()
    result = cli(loaded, "sql", "SELECT sum(x) FROM range(100000000000) t(x)", env={query.TIMEOUT_ENV: "1"})
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.stdout
    assert "stopped after its time limit of 1 s" in result.stderr and query.TIMEOUT_ENV in result.stderr
    assert elapsed < 15


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(loaded, value):
    result = cli(loaded, "sql", "SELECT 1", env={query.TIMEOUT_ENV: value})
    assert result.exit_code == 2
    assert query.TIMEOUT_ENV in result.stderr and "positive number of seconds" in result.stderr


def test_a_huge_query_text_is_refused_before_planning(loaded):
    union = " UNION ALL ".join(f"SELECT {i} AS a" for i in range(10_000))
    started = time.monotonic()
    result = cli(loaded, "sql", union)
    assert result.exit_code == 2
    assert "characters long" in result.stderr and "at most" in result.stderr
    assert time.monotonic() - started < 5


def test_planning_memory_is_bounded_and_the_bound_is_lifted_after(loaded, monkeypatch):
    # Planning happens outside DuckDB's memory limit; the process cap turns it into an Out of Memory error.
    monkeypatch.setattr(query, "PLANNER_HEADROOM_BYTES", 48 << 20)
    monkeypatch.setitem(query.LOCKED_CONFIG, "memory_limit", "32MB")
    monkeypatch.setattr(query, "MEMORY_LIMIT", "32MB")
    monkeypatch.setattr(query, "MAX_QUERY_CHARS", 1 << 20)
    limit_before = resource.getrlimit(resource.RLIMIT_AS)
    union = " UNION ALL ".join(f"SELECT {i} AS a" for i in range(6_000))
    result = cli(loaded, "sql", union)
    assert result.exit_code == 2, result.stdout
    assert "Out of Memory" in result.stderr or "does not fit in the memory" in result.stderr
    assert resource.getrlimit(resource.RLIMIT_AS) == limit_before
    monkeypatch.undo()
    again = cli(loaded, "sql", "SELECT COUNT(*) AS n FROM series", "--format", "csv")
    assert again.exit_code == 0


def test_analysts_reading_statements_still_run(loaded):
    for sql in (
        "DESCRIBE series",
        "SHOW TABLES",
        "SUMMARIZE SELECT value FROM series",
        "EXPLAIN SELECT * FROM series",
        "FROM series LIMIT 1",
        "WITH s AS (SELECT geo FROM series) SELECT COUNT(*) FROM s",
        "VALUES (1, 2)",
    ):
        result = cli(loaded, "sql", sql)
        assert result.exit_code == 0, (sql, result.stderr)

"""Injection: values from the command line and from documents are data, never SQL; `octracker sql` reads only
the published warehouse.

What must hold afterwards: a hostile id, geography, reason, pipeline name, file name or cell either is refused
with a usage error (exit 2) or is stored verbatim as data; every table is still there with its rows; no file
outside the warehouse is read or written; no extension is installed or loaded; the lock-down cannot be undone.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from hostile_fixtures import CASES, REPO, baseline, cli, loaded  # noqa: F401
from hostile_inputs import GOOD_CSV
from warehouse_state import assert_unchanged, snapshot

from published import read_rows

DROP = "'); DROP TABLE observation_history; --"
ARTICLE = CASES / "articles" / "brussels_shootings.txt"


@pytest.fixture
def with_candidates(loaded, tmp_path):
    """The loaded warehouse plus the pending candidates of one article."""
    article = tmp_path / "brussels.txt"
    article.write_bytes(ARTICLE.read_bytes())
    (tmp_path / "brussels.txt.meta.toml").write_text(
        'kind = "article"\ntitle = "Brussels shootings"\npublished = "2025-06-02"\n', encoding="utf-8"
    )
    assert cli(loaded, "ingest", str(article)).exit_code == 0
    return loaded


def candidates(settings) -> list[dict]:
    result = cli(settings, "review", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


HOSTILE_DECISIONS = [
    ("accept", "x' OR '1'='1", [], "no candidate"),
    ("accept", "{id}", ["--indicator", "shootings'; DROP TABLE runs; --"], "unknown indicator"),
    ("accept", "{id}", ["--indicator", "shootings", "--geo", "BE-BRU' OR geo <> '"], "cannot be accepted"),
    ("reject", "' OR 1=1 --", [], "no candidate"),
]


@pytest.mark.parametrize(("verb", "candidate", "flags", "says"), HOSTILE_DECISIONS)
def test_hostile_review_arguments_are_refused_as_usage_and_change_nothing(
    with_candidates, verb, candidate, flags, says
):
    settings = with_candidates
    first = next(c for c in candidates(settings) if c["indicator_id"] is None or c["unit"] == "count")
    before = snapshot(settings.warehouse)
    result = cli(settings, "review", verb, candidate.format(id=first["candidate_id"]), *flags)
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert_unchanged(settings.warehouse, before, may_grow=frozenset())
    assert [c["status"] for c in candidates(settings)] == ["pending"] * len(candidates(settings))


def test_a_hostile_reason_is_kept_verbatim_as_data(with_candidates):
    settings = with_candidates
    first = candidates(settings)[0]
    result = cli(settings, "review", "reject", first["candidate_id"], "--reason", DROP)
    assert result.exit_code == 0, result.stderr
    assert read_rows(
        settings.published_path, "SELECT reason FROM candidates WHERE candidate_id = ?", [first["candidate_id"]]
    ) == [(DROP,)]
    assert read_rows(settings.published_path, "SELECT COUNT(*) > 0 FROM observation_history") == [(True,)]


@pytest.mark.parametrize("name", ["x'; DROP TABLE runs; --", 'inbox" OR 1=1', "../../etc/passwd"])
def test_a_hostile_pipeline_name_is_refused_as_unknown(loaded, name):
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "refresh", name)
    assert result.exit_code == 2 and "unknown pipeline" in result.stderr.lower(), result.stderr
    assert_unchanged(loaded.warehouse, before, may_grow=frozenset())


def test_hostile_file_names_sidecar_fields_and_cells_are_stored_verbatim(loaded, tmp_path):
    name = "a'); DROP TABLE runs; --.csv"
    path = tmp_path / name
    path.write_bytes(GOOD_CSV.replace(b"brussels-2024,\n", f"brussels-2024,{DROP}\n".encode(), 1))
    (tmp_path / f"{name}.meta.toml").write_text(
        f'kind = "observations_long"\ntitle = "{DROP}"\npublisher = "Robert\'); DROP TABLE sources; --"\n',
        encoding="utf-8",
    )
    result = cli(loaded, "ingest", str(path))
    assert result.exit_code == 0, result.stderr
    [(file_name, title)] = read_rows(
        loaded.published_path, "SELECT file_name, title FROM sources WHERE file_name = ?", [name]
    )
    assert (file_name, title) == (name, DROP)
    assert read_rows(loaded.published_path, "SELECT COUNT(*) FROM observations WHERE note = ?", [DROP]) == [(1,)]
    assert read_rows(loaded.published_path, "SELECT COUNT(*) > 0 FROM runs") == [(True,)]


# `octracker sql` ------------------------------------------------------------------------------------------------------

ESCAPES = [
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM read_blob('/etc/hostname')", "file system operations are disabled"),
    ("SELECT * FROM '/etc/passwd'", "Table with name /etc/passwd does not exist"),  # no replacement scan
    ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
    ("SELECT * FROM parquet_metadata('{outside}/x.parquet')", "file system operations are disabled"),
    ("COPY (SELECT * FROM observations) TO '{outside}/stolen.csv'", "runs queries only"),
    ("EXPORT DATABASE '{outside}/export'", "runs queries only"),
    ("ATTACH '{outside}/other.duckdb' AS other", "runs queries only"),
    ("ATTACH ':memory:' AS scratch", "runs queries only"),
    ("INSTALL httpfs", "runs queries only"),
    ("LOAD httpfs", "runs queries only"),
    ("LOAD '{outside}/evil.duckdb_extension'", "runs queries only"),
    ("SET enable_external_access = true", "runs queries only"),
    ("RESET enable_external_access", "runs queries only"),
    ("SET lock_configuration = false", "runs queries only"),
    ("SET allow_unsigned_extensions = true", "runs queries only"),
    ("SET temp_directory = '{outside}'", "runs queries only"),
    ("PRAGMA enable_profiling = 'json'", "runs queries only"),
    ("SET profiling_output = '{outside}/profile.json'", "runs queries only"),
    ("PRAGMA threads = 64", "runs queries only"),
    ("CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')", "runs queries only"),
    ("CREATE TABLE stolen AS SELECT 1", "runs queries only"),
    ("DROP TABLE observation_history", "runs queries only"),
    ("UPDATE observation_history SET value = 0", "runs queries only"),
    ("DETACH octracker", "runs queries only"),
]


@pytest.mark.parametrize(("statement", "says"), ESCAPES, ids=[s for s, _ in ESCAPES])
def test_sql_cannot_reach_files_extensions_settings_or_write(loaded, tmp_path, statement, says):
    outside = tmp_path / "outside"
    outside.mkdir()
    before, warehouse_before = snapshot(loaded.published_path), snapshot(loaded.warehouse)
    result = cli(loaded, "sql", statement.format(outside=outside))
    assert result.exit_code == 2, result.stdout
    assert says in result.stderr, result.stderr
    assert "root:" not in result.stdout  # nothing of /etc/passwd came back
    assert list(outside.iterdir()) == []  # nothing written outside the warehouse
    assert_unchanged(loaded.published_path, before, may_grow=frozenset())
    assert_unchanged(loaded.warehouse, warehouse_before, may_grow=frozenset())


def test_sql_still_answers_an_analysts_query(loaded):
    result = cli(loaded, "sql", "SELECT COUNT(*) AS n FROM series WHERE geo = 'BE'", "--format", "csv")
    assert result.exit_code == 0 and int(result.stdout.split()[1]) > 0


# Every SQL text built with an f-string --------------------------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|FROM|WHERE|VALUES|ORDER BY|ATTACH|COPY)\b")
#: Expressions interpolated into SQL, per module, each checked to come from the code (column lists, `?`
#: placeholders, fixed clauses and the key-matching helpers of history.py), never from a command line or a
#: document. A new one fails this test until its origin is checked and it is added here; a value from outside
#: must be a bound parameter instead.
REVIEWED = {
    # migration_sql: a migration file of the project; int(version), name: its number and MIGRATION_NAME-matched name;
    # now: the writer's clock
    "store/warehouse.py": {
        "int(version)",
        "migration_sql(path, file_only)",
        "name",
        "now",
        "table",
    },  # table: of JSON_ROW_TABLES
    "alerts/outbox.py": {
        "', '.join(ALERT_COLUMNS)",
        "', '.join(columns)",
        "', '.join(EVENT_SCHEMA)",
        "', '.join(OUTBOX_SCHEMA)",
    },
    "serve/charts.py": {"POINT_COLUMNS", "POINT_JOINS", "geo_filter"},  # geo_filter: one `?` per place
    "cli/alerts.py": {"ORDER"},
    # where: one of two fixed clauses with a `?`; LISTED: the module's own row limit; followed and first: the fixed
    # clause of followed_places_condition and the catalog test around it
    "cli/changes.py": {"COLUMNS", "ORDER", "where", "LISTED", "ORDER.removeprefix('ORDER BY ')", "first", "followed"},
    # counted_changes(con): one of two fixed relation names (unsorted_changes() or the changes view)
    "cli/refresh.py": {"marks", "counted_changes(con)"},
    "alerts/alertmanager.py": {"marks"},
    "serve/metrics.py": {"view"},  # trend_alerts or muted_alerts, when the warehouse has it
    "cli/status.py": {"more"},  # a count in a message that quotes a query
    "alerts/deliveries.py": {"marks", "due"},
    # Fixed column names each compared with a `?`, and the module's own limit.
    "serve/evidence.py": {"' AND '.join(where)", "MAX_VALUES", "matches"},
    "serve/export.py": {"relation"},  # from EXPORTED_RELATIONS, and only one that exists
    "serve/datapackage.py": {"relation"},  # an exported relation, described after it was written
    # The module's table names and FEW_SERIES (a number); rows: a relation the history module writes (its own temp
    # tables and conditions).
    "store/findings.py": {"OWED", "OWED_SERIES", "TABLE", "rows", "FEW_SERIES"},
    # SUMMARY_SECTIONS' fixed columns, relations and clauses; the row limit is bound.
    # condition: starts_with(geo, '<place>') of places that match alert_rules.PLACE_ID (capitals, digits, _+-)
    "cli/query.py": {"columns", "relation", "where", "order", "condition"},
    "serve/report_front.py": {"data.movers_total", "len(data.movers)"},  # counts in a note quoting a query
    "store/history.py": {
        "_same_values('i', 'h')",
        "_same_statement('i', 'h')",
        "_key_match('i', 'h')",
        "_key_match('c', 'h')",
        "_same_values('c', 'h')",
        "columns",
        "partition",
        "condition",
        "left",
        "right",
        "c",
        # placeholders (?, ?, …), fixed temp-table names and join words, catalog column lists
        "_key_match('h', 'c', '_h_')",
        "current",
        "_current(source_ids)",  # the current versions' query, one `?` per source
        "current_keys",
        "join",
        "right_prefix",
        "rows",
        "scope",
        "stated_elsewhere",
        # period column names and the fixed relations of multi_source_periods' upkeep
        "period",
        "shared",
        "'AND source_id <> ?' if one_source else ''",
        "_period_match('m', 'r')",
        # the fixed names of a step's temp tables, dropped by _scratch
        "table",
        # a small feed of corrections compared by key: fixed relations, key columns and join conditions; scoped: the
        # current versions found by series id, a fixed relation with `?` for the ids and each source
        "incoming",
        "keys",
        "scoped",
        "on",
        "versions",
        # a fixed condition on the compared rows' hashes (a row read under the same rules that kept its hash)
        "unchanged",
        # one `?` per per-load value (with_per_load), `?` per source
        "', '.join('?' * len(values))",
        "_in_sources(source_ids)",
        # the indicators of rows just made current: a fixed relation, or the distinct ids of `rows` (above)
        "indicator_ids",
        # the hashes a re-read table was told about: fixed temp tables
        "told",
        # the row ids of the versions a write closes: a fixed query of its `_changes`
        "rowids",
        # the versions a re-read table no longer states, as stored_versions shows them: a fixed query of
        # observation_versions and `_unstated`, `?` per source
        "_as_read(unstated_versions)",
        # the current versions of the sources' loads as stored: a fixed condition, `?` per source
        "_stored_current(source_ids)",
        # a few rows handed to DuckDB (handed_to_duckdb): a fixed temp table's name, its stream's, Arrow column names;
        # the name of a DuckDB setting `_setting` sets for a block
        # of history columns
        "name",
        "stream",
        # the stored versions joined with their loads (and their series' keys), the columns a version stores, a load's
        # citation of a row: module constants; evidence: the word `evidence` or NULL
        "VERSIONS",
        "HISTORY_BY_ID",
        "CITATION",
        "stored",
        "evidence",
        "', '.join(STORED_COLUMNS)",
        # the columns a version stores, its unit and qualifier NULL where they are its load's (`?` or the load's
        # columns): module constants and fixed aliases
        "_as_stored('', '?')",
        "_as_stored('r.', 'l.')",
        # the key columns of the changed rows a large frame's insert takes from it: a module constant
        "', '.join(STORED_KEY)",
        # the versions a keyed comparison matched, read once by row id (MATCHED_VERSIONS, or `_closing_versions`), as
        # stored_versions shows them: fixed temp-table names and the load's columns (a module constant)
        "MATCHED_VERSIONS",
        "read",
        "', '.join((f'l.{c}' for c in LOAD_COLUMNS))",
    },
    "store/staging.py": {"staged"},  # the fixed query of the loads of staged runs
    # The operator's own lake settings, as escaped literals (sql_literal) or fixed aliases and options.
    "store/lake.py": {
        "', '.join(options)",
        "', '.join(self.attach_options(read_only=True))",
        "LAKE_ALIAS",
        "alias",
        "body",
        "sql_literal(self.uri)",
        "sql_literal(target.password)",
        "sql_literal(target.uri)",
    },
    # Table names read from the warehouse file being copied (made by the migrations), quoted.
    "store/lake_copy.py": {"SOURCE_ALIAS", "name", "qualified", "sql_literal(str(path))"},
    # Error messages, not SQL: limits, the statement type DuckDB parsed, the query's length and time limit.
    # column: the geo column's name, given by code (followed_places_condition)
    "store/query.py": {
        "MEMORY_LIMIT",
        "first_line",
        "MAX_QUERY_CHARS",
        "TIMEOUT_ENV",
        "len(sql)",
        "timeout_s",
        "what",
        "column",
    },
    # ... and the front page's fixed column lists and joins (NULLs when a view is missing), its placeholders,
    # and the movers' fixed parts
    "serve/report.py": {
        "', '.join(columns)",
        "', '.join(keys)",
        "POINT_COLUMNS",
        "POINT_JOINS",
        "order",
        "change_columns",
        "change_join",
        "rank_columns",
        "rank_join",
        "geo_marks",
        "indicator_marks",
        "' UNION ALL '.join(parts)",
        # followed: store.query.followed_places_condition, fixed SQL
        "followed",
        "followed_places_condition(relations)",
    },
    "load/review.py": {"', '.join(LISTED_COLUMNS)", "', '.join(CANDIDATE_COLUMNS)", "where", "placeholders"},
    # order: one of two fixed ORDER BY clauses; followed: store.query.followed_places_condition, fixed SQL
    "serve/status.py": {"order", "followed"},
}


def interpolations_into_sql(root: Path) -> dict[str, set[str]]:
    """Per module: the expressions placed into SQL-looking f-strings, `%` or `.format()` templates."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                values = [ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
                text, values = str(node.left.value), [ast.unparse(node.right)]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and isinstance(node.func.value, ast.Constant)
            ):
                text, values = str(node.func.value.value), [ast.unparse(a) for a in [*node.args, *node.keywords]]
            else:
                continue
            if values and SQL_WORDS.search(text):
                found.setdefault(module, set()).update(values)
    return found


def test_every_value_put_into_sql_text_comes_from_the_code():
    found = interpolations_into_sql(REPO / "src" / "octracker")
    unreviewed = {m: sorted(v - REVIEWED.get(m, set())) for m, v in found.items() if v - REVIEWED.get(m, set())}
    assert not unreviewed, (
        f"SQL built with values not yet checked: {unreviewed}; bind values from users or "
        "documents as parameters (?), then add code-made expressions to REVIEWED"
    )
    # The check sees what it should: the history module's key matching is found.
    assert "_key_match('i', 'h')" in found["store/history.py"]

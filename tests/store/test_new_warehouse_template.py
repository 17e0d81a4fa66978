"""A new warehouse file is a copy of the template the first one of the same schema left (see
`octracker.store.warehouse.new_warehouse_template`): the same tables, views and data as one made by its migrations,
dated from when it was made, and never a template whose migrations or views differ from the project's."""

from __future__ import annotations

import duckdb
import pytest

from conftest import REPO, copy_project_content, run_octracker
from octracker.store import warehouse
from octracker.store.settings import build_settings
from octracker.store.warehouse import utc_now, writer_session

PUBLISHER_FILE = REPO / "tests" / "cases" / "publishers" / "eurostat" / "sdg_04_20.csv"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The user's cache folder, of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "octracker" / "warehouse-templates"


def new_settings(project, folder):
    return build_settings(project=project, warehouse=folder / "octracker.duckdb", environ={})


def rows(path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def schema(path) -> list[tuple]:
    return rows(
        path,
        "SELECT 'table', table_name, sql FROM duckdb_tables() UNION ALL "
        "SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal UNION ALL "
        "SELECT 'macro', function_name, macro_definition FROM duckdb_functions() "
        "WHERE function_type LIKE '%macro' AND NOT internal ORDER BY ALL",
    )


def test_a_second_new_warehouse_is_the_first_ones_template_with_its_own_load_and_dates(tmp_path, cache):
    first, second = new_settings(REPO, tmp_path / "first"), new_settings(REPO, tmp_path / "second")
    loaded = run_octracker(first, "--quiet", "ingest", str(PUBLISHER_FILE), XDG_CACHE_HOME=str(cache.parents[1]))
    assert loaded.returncode == 0, loaded.stderr
    [template] = cache.glob("*.duckdb")
    # The template is the warehouse as it was made, before anything was loaded.
    assert rows(template, "SELECT COUNT(*) FROM runs") == [(0,)]
    con = duckdb.connect(str(template))
    con.execute("CREATE TABLE template_mark AS SELECT 1 AS one")  # to tell a copy of it
    con.close()

    before = utc_now()
    loaded = run_octracker(second, "--quiet", "ingest", str(PUBLISHER_FILE), XDG_CACHE_HOME=str(cache.parents[1]))
    assert loaded.returncode == 0, loaded.stderr
    assert rows(second.warehouse, "SELECT one FROM template_mark") == [(1,)]
    assert [r for r in schema(second.warehouse) if r[1] != "template_mark"] == schema(first.warehouse)
    counts = "SELECT COUNT(*), SUM(value) FROM observation_history"
    assert rows(second.published_path, counts) == rows(first.published_path, counts) != [(0, None)]
    findings = "SELECT COUNT(*) FROM stored_alert_findings"
    assert rows(second.warehouse, findings) == rows(first.warehouse, findings)
    # Its migrations and views are dated from when it was made, not from when the template was.
    [(applied,)] = rows(second.warehouse, "SELECT DISTINCT applied_at FROM schema_migrations")
    assert applied >= before and rows(second.warehouse, "SELECT applied_at FROM applied_views") == [(applied,)]


def test_a_project_of_another_catalog_keeps_a_template_of_its_own_with_its_catalog_written(
    tmp_path, cache, monkeypatch
):
    """Two projects of the same schema and other catalogs: the second's first new warehouse is a copy of the first's
    template that takes its own catalog and is kept as its template; its next one is a copy of that, whose catalog
    and alert rules are current (not written again), and the first project's template is still its own."""
    written: list[str] = []  # each write of what every finding depends on (catalog, alert places, views)
    monkeypatch.setattr(warehouse, "findings_inputs_changed", lambda con: written.append("catalog or rules"))
    other = copy_project_content(tmp_path / "other")
    catalog = other / "schemas" / "indicators.toml"
    catalog.write_text(catalog.read_text().replace('name = "', 'name = "Other: ', 1))
    indicators = "SELECT * FROM indicators ORDER BY ALL"
    with writer_session(new_settings(REPO, tmp_path / "first"), publish_after=False):
        pass
    [first_template] = cache.glob("*.duckdb")
    written.clear()
    with writer_session(new_settings(other, tmp_path / "second"), publish_after=False) as (con, _):
        second_indicators = con.execute(indicators).fetchall()
    assert written, "a copy of another catalog's template writes its own catalog"
    [other_template] = set(cache.glob("*.duckdb")) - {first_template}
    assert rows(other_template, indicators) == second_indicators != rows(first_template, indicators)
    assert any(name.startswith("Other: ") for name in (r[1] for r in second_indicators))
    con = duckdb.connect(str(other_template))
    con.execute("CREATE TABLE template_mark AS SELECT 1 AS one")  # to tell a copy of it
    con.close()
    third = new_settings(other, tmp_path / "third")
    written.clear()
    with writer_session(third, publish_after=False) as (con, _):
        assert con.execute("SELECT one FROM template_mark").fetchall() == [(1,)]
        assert con.execute(indicators).fetchall() == second_indicators
    assert written == []  # its template's catalog and rules were current: nothing written again
    assert sorted(cache.glob("*.duckdb")) == sorted([first_template, other_template])
    with writer_session(new_settings(REPO, tmp_path / "fourth"), publish_after=False) as (con, _):
        assert con.execute(indicators).fetchall() == rows(first_template, indicators)
        assert not con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'template_mark'").fetchone()[0]


def test_a_project_with_other_views_or_migrations_makes_its_warehouse_itself(tmp_path, cache):
    with writer_session(new_settings(REPO, tmp_path / "first"), publish_after=False):
        pass
    [template] = cache.glob("*.duckdb")
    project = copy_project_content(tmp_path / "project")
    (project / "warehouse" / "views" / "99_test_probe.sql").write_text(
        "-- test_probe: a view only this project has.\n-- Grain: one row.\n-- Inputs: none.\n"
        "CREATE OR REPLACE VIEW test_probe AS SELECT 1 AS one;\n"
    )
    settings = new_settings(project, tmp_path / "second")
    with writer_session(settings, publish_after=False) as (con, _):
        assert con.execute("SELECT one FROM test_probe").fetchall() == [(1,)]
    assert len(list(cache.glob("*.duckdb"))) == 2  # a template of its own, beside the first
    (project / "warehouse" / "migrations" / "0999_test_probe.sql").write_text(
        "CREATE TABLE test_probe_table (one INTEGER);\n"
    )
    settings = new_settings(project, tmp_path / "third")
    with writer_session(settings, publish_after=False) as (con, _):
        assert con.execute("SELECT COUNT(*) FROM test_probe_table").fetchall() == [(0,)]
        assert con.execute("SELECT MAX(version) FROM schema_migrations").fetchall() == [(999,)]
    assert template.exists() and len(list(cache.glob("*.duckdb"))) == 3


def test_only_the_most_recently_used_templates_are_kept(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(warehouse, "TEMPLATES_KEPT", 2)
    project = copy_project_content(tmp_path / "project")
    views = project / "warehouse" / "views"
    for n in range(3):  # three versions of the views: a template each
        (views / "99_test_probe.sql").write_text(f"CREATE OR REPLACE VIEW test_probe AS SELECT {n} AS n;\n")
        with writer_session(new_settings(project, tmp_path / f"made_{n}"), publish_after=False):
            pass
    assert len(list(cache.glob("*.duckdb"))) == 2
    with writer_session(new_settings(project, tmp_path / "copied"), publish_after=False) as (con, _):
        assert con.execute("SELECT n FROM test_probe").fetchall() == [(2,)]


def test_a_cache_that_cannot_be_written_leaves_new_warehouses_made_as_before(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    for name in ("first", "second"):
        settings = new_settings(REPO, tmp_path / name)
        with writer_session(settings):
            pass
        assert rows(settings.published_path, "SELECT COUNT(*) FROM schema_migrations") != [(0,)]
    assert not list(tmp_path.glob("*/.*.new"))  # no half-made copy left beside a warehouse

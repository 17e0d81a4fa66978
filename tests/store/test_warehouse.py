"""Migrations, views and the contract between the Pandera model and the warehouse DDL, on every backend."""

from __future__ import annotations

import logging
import shutil

import duckdb
import pytest

from conftest import REPO, copy_project_content, on_backend
from history_rows import insert_history
from octracker.errors import OctrackerError
from octracker.extract.validation import load_schema_module
from octracker.load.pipeline import refresh
from octracker.store.rows import scalar
from octracker.store.settings import build_settings
from octracker.store.warehouse import apply_migrations, apply_views, open_reader, open_writer, writer_session

pytestmark = pytest.mark.usefixtures("backend")

BOOKKEEPING = ["pipeline", "run_id", "valid_from", "valid_to", "row_hash", "evidence_row"]
PANDERA_TO_DUCKDB = {"String": "VARCHAR", "Date": "DATE", "Int32": "INTEGER", "Float64": "DOUBLE", "Boolean": "BOOLEAN"}


def table_columns(con, name):
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall()]


def test_canonical_model_and_history_ddl_agree_column_for_column(settings):
    with open_writer(settings) as con:
        check_model_and_ddl_agree(con, settings)


def check_model_and_ddl_agree(con, settings):
    apply_migrations(con, settings.migrations_dir)
    apply_views(con, settings.views_dir)
    schema = load_schema_module(settings.schemas_dir).Observation.to_schema()
    model = [(name, PANDERA_TO_DUCKDB[str(col.dtype)]) for name, col in schema.columns.items()]
    history = table_columns(con, "observation_history")
    # A column added by a later migration comes after the bookkeeping (ALTER TABLE appends): the model's columns
    # are those of the history in the model's order, and the others are exactly the bookkeeping.
    names = {name for name, _ in model}
    assert [c for c in history if c[0] in names] == model
    assert [c for c, _ in history if c not in names] == BOOKKEEPING
    assert table_columns(con, "observations") == model
    # The history is a view: its columns' nullability is that of the tables that store them.
    stored = ("loads", "observation_versions", "series_keys")
    nullable = {r[0]: r[2] == "YES" for table in stored for r in con.execute(f"DESCRIBE {table}").fetchall()}
    for name, col in schema.columns.items():
        # A version citing a table row stores no evidence of its own: the view shows its load's citation. Nor does a
        # version whose unit or qualifier is its load's usual one (migration 0021): the view shows the load's.
        expected = col.nullable or name in ("evidence", "unit", "qualifier")
        assert nullable[name] == expected, f"{name}: nullability differs between model and DDL"


def test_migrations_apply_in_order_once(settings):
    with open_writer(settings) as con:
        first = apply_migrations(con, settings.migrations_dir)
        assert first == sorted(first) and first[0].startswith("0001_")
        assert apply_migrations(con, settings.migrations_dir) == []
        recorded = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert len(recorded) == len(first)


def test_failing_migration_is_rolled_back_with_its_record(tmp_path, settings):
    migrations = tmp_path / "migrations"
    shutil.copytree(settings.migrations_dir, migrations)
    (migrations / "9999_broken.sql").write_text("CREATE TABLE half_done (a INTEGER);\nSELECT * FROM no_such_table;\n")
    with open_writer(settings) as con:
        with pytest.raises(OctrackerError, match="9999_broken.sql: migration failed and was rolled back") as failed:
            apply_migrations(con, migrations)
        # What failed when they were applied together stays attached (--debug shows it), not dropped.
        assert isinstance(failed.value.__cause__, duckdb.Error) and "no_such_table" in str(failed.value.__cause__)
        assert con.execute("SELECT COUNT(*) FROM schema_migrations WHERE version = 9999").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'half_done'").fetchone()[0] == 0
        # The good migrations before it stay applied.
        assert con.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] >= 1


@pytest.mark.one_backend
def test_migrations_that_fail_together_but_not_alone_are_applied_one_by_one_with_a_warning(tmp_path, settings, caplog):
    # A CHECKPOINT cannot follow other files' changes in one transaction; alone it can.
    migrations = tmp_path / "migrations"
    shutil.copytree(settings.migrations_dir, migrations)
    (migrations / "9999_checkpoint.sql").write_text("CHECKPOINT;\n")
    with open_writer(settings) as con, caplog.at_level(logging.WARNING, logger="octracker.store.warehouse"):
        applied = apply_migrations(con, migrations)
        assert applied[-1] == "9999_checkpoint.sql" and len(applied) == len(list(migrations.glob("*.sql")))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "failed when applied in one transaction" in warning and "CHECKPOINT" in warning
    assert warning.endswith("applied one by one instead")


@pytest.mark.one_backend
def test_every_view_file_has_a_header_saying_purpose_grain_and_inputs(settings):
    for path in sorted(settings.views_dir.glob("*.sql")):
        header = path.read_text().split("CREATE", 1)[0]
        assert "Grain:" in header and "Inputs:" in header, f"{path.name} lacks its header comment"


def test_a_table_macro_among_the_views_works_on_every_backend(tmp_path, settings):
    views = tmp_path / "views"
    shutil.copytree(settings.views_dir, views)
    (views / "99_test_known_at.sql").write_text(
        "-- known_at: what the warehouse knew at a time (a table macro, as views may define).\n"
        "-- Grain: one row per observation version valid at `t`.\n-- Inputs: observation_history.\n"
        "CREATE OR REPLACE MACRO known_at(t) AS TABLE\n"
        "SELECT * FROM observation_history WHERE valid_from <= t AND (valid_to IS NULL OR valid_to > t);\n"
    )
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, views)
        insert_history(
            con,
            "(indicator_id, geo, value, unit, qualifier, is_partial, "
            "source_id, method, evidence, pipeline, run_id, valid_from, valid_to) VALUES "
            "('x', 'BE', 1, 'count', 'exact', false, 's', 'parsed', 'e', 'p', 'r1', '2026-01-01', '2026-02-01'), "
            "('x', 'BE', 2, 'count', 'exact', false, 's', 'parsed', 'e', 'p', 'r2', '2026-02-01', NULL)",
        )
        assert con.execute("SELECT value FROM known_at(TIMESTAMP '2026-01-15')").fetchall() == [(1.0,)]
        assert con.execute("SELECT value FROM known_at(TIMESTAMP '2026-03-01')").fetchall() == [(2.0,)]


def views_applied_at(settings):
    with open_writer(settings) as con:
        return con.execute("SELECT applied_at FROM applied_views").fetchall()


def test_views_are_made_again_only_when_their_files_change_or_one_is_missing(tmp_path, request):
    """A refresh re-binds no view when the view files are those the warehouse's views were made from; an edited
    or added file, or a view dropped by hand, has every view made again at the next one."""
    project = copy_project_content(tmp_path / "project")
    settings = on_backend(request, project, tmp_path, tmp_path / "warehouse" / "octracker.duckdb")
    with writer_session(settings, publish_after=False):
        pass
    [first] = views_applied_at(settings)
    with writer_session(settings, publish_after=False):
        pass
    assert views_applied_at(settings) == [first]

    (settings.views_dir / "99_test_probe.sql").write_text(
        "-- test_probe: a view added between runs.\n-- Grain: one row.\n-- Inputs: none.\n"
        "CREATE OR REPLACE VIEW test_probe AS SELECT 1 AS one;\n"
    )
    with writer_session(settings, publish_after=False) as (con, _):
        assert con.execute("SELECT one FROM test_probe").fetchall() == [(1,)]
    [second] = views_applied_at(settings)
    assert second > first

    with open_writer(settings) as con:
        con.execute("DROP VIEW trend_alerts")
    with writer_session(settings, publish_after=False) as (con, _):
        assert scalar(con, "SELECT COUNT(*) FROM trend_alerts") >= 0
    assert views_applied_at(settings) > [second]


def text_compressions(path, column: str = "evidence") -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT compression FROM pragma_storage_info('observation_versions') "
                "WHERE column_name = ? AND segment_type = 'VARCHAR'",
                [column],
            ).fetchall()
        }
    finally:
        con.close()


@pytest.mark.one_backend
def test_a_new_warehouse_file_is_written_in_duckdb_13s_format_and_an_old_one_keeps_its_own(tmp_path):
    """docs/analysts.md: a new file is written in DuckDB 1.3's format (faster writes: DICT_FSST text compression,
    and ZSTD for the evidence), so it opens in DuckDB 1.3 or newer; a warehouse made in the older default format is not
    converted behind the back of older clients that still read it, and its evidence is not left uncompressed
    (that format does not have ZSTD for text)."""
    new = build_settings(project=REPO, warehouse=tmp_path / "new" / "octracker.duckdb", environ={})
    old_path = tmp_path / "old" / "octracker.duckdb"
    old_path.parent.mkdir()
    duckdb.connect(str(old_path)).close()  # DuckDB's default format for a new file
    old = build_settings(project=REPO, warehouse=old_path, environ={})
    for settings in (new, old):
        results = refresh(settings, ["oci_2025_profiles"])
        assert [r.status for r in results] == ["success"]
    assert text_compressions(new.warehouse) == {"ZSTD"}
    unit = text_compressions(new.warehouse, "unit")  # the other text columns keep DuckDB's choice
    assert unit and unit <= {"DICT_FSST", "CONSTANT"}, unit
    # The bundled profiles' few evidence texts are stored uncompressed in the old format whatever the column
    # asks; twenty thousand table rows' evidence shows what the column asks for there.
    con = duckdb.connect(str(old.warehouse))
    insert_history(
        con,
        "(indicator_id, geo, value, unit, qualifier, is_partial, source_id, "
        "method, evidence, pipeline, run_id, valid_from) SELECT 'shootings', 'BE-BRU', range, 'count', "
        "'exact', false, 's', 'parsed', 'statistics.csv row ' || range || ': shootings,BE-BRU,2024,' || "
        "range || ',count', 'p', 'r', TIMESTAMP '2026-01-01' FROM range(20000)",
    )
    con.execute("CHECKPOINT")
    con.close()
    kept = text_compressions(old.warehouse)
    assert kept and kept.isdisjoint({"DICT_FSST", "ZSTD"}) and "FSST" in kept, kept


def indicators_readers_see(settings) -> int:
    reader = open_reader(settings.read_target)
    try:
        return scalar(reader, "SELECT COUNT(*) FROM indicators")
    finally:
        reader.close()


def test_a_writer_session_makes_the_catalog_current_and_publishes_only_work_that_succeeded(settings, catalog):
    with writer_session(settings) as (con, session_catalog):
        assert session_catalog.indicators == catalog.indicators
    assert indicators_readers_see(settings) == len(catalog.indicators)
    if settings.lake is not None:
        return  # a lake has no published copy: each commit is what its readers see
    with pytest.raises(RuntimeError, match="half-way"):
        with writer_session(settings) as (con, _):
            con.execute("DELETE FROM indicators")
            raise RuntimeError("stopped half-way")
    assert indicators_readers_see(settings) == len(catalog.indicators)

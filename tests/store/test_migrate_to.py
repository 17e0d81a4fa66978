"""`octracker migrate-to`: a refreshed warehouse file copied into a lake answers every view exactly as the file."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from lakes import cli_options
from octracker.cli import main
from octracker.store.lake import load_extension, parse_lake_target
from octracker.store.warehouse import open_reader

PROFILE = "documents/003_3261f147cc4f0198.txt"


def relations(con, kind: str) -> list[str]:
    function = {"view": "duckdb_views() WHERE NOT internal AND", "table": "duckdb_tables() WHERE"}[kind]
    column = f"{kind}_name"
    return [
        r[0]
        for r in con.execute(
            f"SELECT {column} FROM {function} database_name = current_database() ORDER BY 1"
        ).fetchall()
    ]


def everything(con) -> dict[str, list]:
    """Every table's and every view's rows, order-free; without where the writer finds a version in its store
    (`version_rowid`, a row's place in the file or the lake, not what it states)."""
    found = {}
    for kind in ("table", "view"):
        for name in relations(con, kind):
            selected = "* EXCLUDE (version_rowid)" if "version_rowid" in columns(con, name) else "*"
            found[name] = sorted(con.execute(f'SELECT {selected} FROM "{name}"').fetchall(), key=repr)
    return found


def columns(con, name: str) -> list[str]:
    return [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]


@pytest.fixture
def file_with_history(scratch_project):
    """A file warehouse with revisions, retractions' closed versions, a refused document and quarantine."""
    settings = scratch_project
    runner = CliRunner()
    options, _ = cli_options(settings)
    assert runner.invoke(main, [*options, "refresh"]).exit_code == 0
    doc = settings.pipelines_dir / PROFILE
    text = doc.read_text(encoding="utf-8")
    revised = text.replace("Cocaine trade\n8.000.50\n", "Cocaine trade\n8.501.00\n").replace(
        "Criminal markets\n5.330.10\n", "Criminal markets\n5.370.13\n", 1
    )
    doc.write_text(revised, encoding="utf-8")
    assert runner.invoke(main, [*options, "refresh", "oci_2025_profiles"]).exit_code == 0
    doc.write_text(text.replace("Cocaine trade\n8.000.50\n", "Cocaine trade\n80.000.50\n"), encoding="utf-8")
    assert runner.invoke(main, [*options, "refresh", "oci_2025_profiles"]).exit_code == 2
    doc.write_text(revised, encoding="utf-8")
    return settings


@pytest.mark.parametrize("catalog", ["postgres", "file"])
def test_migrate_to_copies_every_table_and_the_lake_answers_every_view_as_the_file(
    file_with_history, lake_settings, tmp_path, catalog
):
    settings = file_with_history
    options, _ = cli_options(settings)
    if catalog == "postgres":
        target, env, lake_target = "ducklake:postgres:", cli_options(lake_settings)[1], lake_settings.lake
    else:
        target, env = f"ducklake:{tmp_path}/lake/catalog.ducklake", {}
        lake_target = parse_lake_target(target, {}, tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, [*options, "migrate-to", target], env=env)
    assert result.exit_code == 0, result.output
    assert "NO" not in result.output
    for table in ("loads", "observation_versions", "quarantine", "runs", "schema_migrations", "sources"):
        assert table in result.output
    assert "ATTACH 'ducklake:" in result.output and "(READ_ONLY" in result.output

    con = open_reader(settings.published_path)
    try:
        expected = everything(con)
    finally:
        con.close()
    con = open_reader(lake_target)
    try:
        copied = everything(con)
    finally:
        con.close()
    assert set(copied) == set(expected)
    assert {"observations", "series", "source_conflicts", "observation_history", "quarantine"} <= set(copied)
    assert len(expected["observation_history"]) > len(expected["observations"]) and expected["quarantine"]
    for name in expected:
        assert copied[name] == expected[name], name

    # The statement printed for analysts works as it is in a plain DuckDB session.
    (statement,) = [
        line.strip().rstrip(";") for line in result.output.splitlines() if line.strip().startswith("ATTACH")
    ]
    analyst = duckdb.connect()
    try:
        for extension in ("ducklake", "postgres"):
            load_extension(analyst, extension)
        analyst.execute(statement)
        assert sorted(analyst.execute("SELECT * FROM lake.series").fetchall(), key=repr) == expected["series"]
    finally:
        analyst.close()

    # The lake carries on from the file's history: nothing new, and a second copy into it is refused.
    lake_options = ["--project", str(settings.project), "--warehouse", target]
    again = runner.invoke(main, [*lake_options, "refresh", "oci_2025_profiles", "--json"], env=env)
    assert again.exit_code == 0, again.output
    (summary,) = json.loads(again.output)
    assert (summary["new"], summary["revised"], summary["unchanged"]) == (0, 0, 144)
    refused = runner.invoke(main, [*options, "migrate-to", target], env=env)
    assert refused.exit_code == 2 and "already holds tables" in refused.output

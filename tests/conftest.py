"""Shared fixtures: the real project content, a warehouse file per test, and scratch projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from octracker.catalog import load_catalog
from octracker.cli import main
from octracker.settings import Settings, build_settings

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = REPO / "pipelines" / "documents"

# Warehouses with the bundled figures and their report, shared by the analyst-facing tests.
pytest_plugins = ["analyst_fixtures"]


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO / "schemas" / "indicators.toml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The real project content with a fresh warehouse file of this test's own."""
    return build_settings(project=REPO, warehouse=tmp_path / "warehouse" / "octracker.duckdb", environ={})


def copy_project(root: Path) -> Settings:
    """A copy of the project's content under `root`, with a warehouse of its own."""
    for folder in ("pipelines", "schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, root / folder)
    return build_settings(project=root, warehouse=root / "warehouse" / "octracker.duckdb", environ={})


@pytest.fixture
def scratch_project(tmp_path: Path) -> Settings:
    """A copy of the project's content that a test may edit (documents, specs), with its own warehouse."""
    return copy_project(tmp_path / "project")


def run_cli(settings: Settings, *args: str, input: str | None = None):
    """Run the `octracker` command on these settings' project and warehouse, as a user would."""
    return CliRunner().invoke(main, ["--project", str(settings.project), "--warehouse", str(settings.warehouse),
                                     *args], input=input)


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query on the published copy, the file analysts read."""
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()

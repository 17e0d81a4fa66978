"""Shared fixtures: the real project content, a warehouse file per test, and scratch projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from octracker.catalog import load_catalog
from octracker.settings import Settings, build_settings

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = REPO / "pipelines" / "documents"


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO / "schemas" / "indicators.toml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The real project content with a fresh warehouse file of this test's own."""
    return build_settings(project=REPO, warehouse=tmp_path / "warehouse" / "octracker.duckdb", environ={})


@pytest.fixture
def scratch_project(tmp_path: Path) -> Settings:
    """A copy of the project's content that a test may edit (documents, specs), with its own warehouse."""
    root = tmp_path / "project"
    for folder in ("pipelines", "schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, root / folder)
    return build_settings(project=root, warehouse=root / "warehouse" / "octracker.duckdb", environ={})


# Warehouses with the articles' figures and their report, built once for every test module that reads them.
from analyst_fixtures import figures_report, figures_settings  # noqa: E402,F401

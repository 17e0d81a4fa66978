"""Fixtures of the hostile tests: a warehouse refreshed once from the bundled documents, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import child_env, octracker_command, run_cli, run_octracker
from octracker.load.pipeline import refresh
from octracker.store.settings import Settings, build_settings

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> Path:
    """The data folder (warehouse, published copy, raw store) of one refresh of every bundled pipeline."""
    folder = tmp_path_factory.mktemp("baseline") / "warehouse"
    results = refresh(build_settings(project=REPO, warehouse=folder / "octracker.duckdb", environ={}))
    # The statistics publishers' feeds are offline in tests: each loads its bundled snapshot, reported unreachable.
    assert all(r.status in ("success", "unreachable") for r in results), [r.error for r in results if r.error]
    return folder


def copy_baseline(baseline: Path, project: Path, data_dir: Path) -> Settings:
    """Settings for `project` with a copy of the baseline's data folder as its warehouse."""
    shutil.copytree(baseline, data_dir)
    return build_settings(project=project, warehouse=data_dir / "octracker.duckdb", environ={})


@pytest.fixture
def loaded(baseline: Path, tmp_path: Path) -> Settings:
    """The real project content and a warehouse that already holds every bundled source."""
    return copy_baseline(baseline, REPO, tmp_path / "warehouse")


@pytest.fixture
def loaded_scratch(baseline: Path, tmp_path: Path) -> Settings:
    """An editable copy of the project (add specs freely) with a copy of the loaded warehouse."""
    root = tmp_path / "project"
    for folder in ("pipelines", "schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, root / folder)
    return copy_baseline(baseline, root, tmp_path / "data")


#: The `octracker` command in this process, on these settings.
cli = run_cli

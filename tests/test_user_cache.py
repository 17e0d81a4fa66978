"""octracker's folder in the user's cache (`octracker.user_cache`): one place, for the templates of new warehouses
and for the DuckDB extensions of an environment that cannot hold them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO
from octracker.store import lake, warehouse
from octracker.store.settings import build_settings
from octracker.store.warehouse import writer_session
from octracker.user_cache import user_cache_folder


def no_home() -> Path:
    raise RuntimeError("Could not determine home directory.")


def test_the_cache_folder_is_under_xdg_cache_home_else_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_folder() == tmp_path / "xdg" / "octracker"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_folder() == tmp_path / "home" / ".cache" / "octracker"


def test_an_environment_that_cannot_hold_extensions_keeps_them_in_the_same_cache_folder_as_the_templates(
    tmp_path, monkeypatch
):
    not_a_folder = tmp_path / "read-only-environment"
    not_a_folder.write_text("a file where the environment's share/ folder would be\n")
    monkeypatch.setattr(sys, "prefix", str(not_a_folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = tmp_path / "xdg" / "octracker"
    assert lake.extension_directory().parent == cache / "duckdb_extensions"
    assert warehouse.template_cache() == cache / "warehouse-templates"


def test_a_user_without_a_home_folder_still_gets_a_new_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert user_cache_folder() is None
    settings = build_settings(project=REPO, warehouse=tmp_path / "octracker.duckdb", environ={})
    with writer_session(settings, publish_after=False) as (con, _):
        assert con.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] > 0


def test_without_a_home_folder_an_environment_that_cannot_hold_extensions_says_where_they_could_go(
    tmp_path, monkeypatch
):
    not_a_folder = tmp_path / "read-only-environment"
    not_a_folder.write_text("a file where the environment's share/ folder would be\n")
    monkeypatch.setattr(sys, "prefix", str(not_a_folder))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    with pytest.raises(lake.OctrackerError, match="XDG_CACHE_HOME"):
        lake.extension_directory()

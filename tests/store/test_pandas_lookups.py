"""DuckDB's look-ups of pandas in a writer session, answered at once where pandas is not installed."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import subprocess
import sys

import pytest

from octracker.store.pandas_lookups import pandas_lookups_answered
from octracker.store.settings import build_settings
from octracker.store.warehouse import open_writer

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pandas") is not None, reason="pandas is installed here")


def test_a_writers_statements_with_parameters_do_not_search_for_pandas_again(tmp_path, monkeypatch):
    """DuckDB's client imports pandas twice for every parameter value; Python does not remember that the import
    failed, so without this every one searched sys.path (316 times in a small refresh, 13 ms)."""
    searched: list[str] = []
    path_finder = importlib.machinery.PathFinder.find_spec.__func__

    def counting(cls, fullname, path=None, target=None):
        if fullname == "pandas":
            searched.append(fullname)
        return path_finder(cls, fullname, path, target)

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", classmethod(counting))
    settings = build_settings(project=tmp_path, warehouse=tmp_path / "octracker.duckdb", environ={})
    with open_writer(settings) as con:
        for n in range(20):
            assert con.execute("SELECT ?, ?", [n, "x"]).fetchone() == (n, "x")
    assert searched == ["pandas"]  # once, as the writer opened, not 40 times
    with pytest.raises(ModuleNotFoundError, match="No module named 'pandas'"):
        importlib.import_module("pandas")  # after the session, found missing as before, by a search
    assert searched == ["pandas", "pandas"]


def test_pandas_is_missing_the_same_way_inside_the_block_to_every_library():
    """An import fails with the same error; Polars, imported meanwhile, finds pandas missing, as it would have."""
    code = (
        "import importlib, sys\n"
        "from octracker.store.pandas_lookups import pandas_lookups_answered\n"
        "with pandas_lookups_answered():\n"
        "    import polars as pl\n"
        "    from polars._dependencies import _PANDAS_AVAILABLE\n"
        "    try:\n"
        "        import pandas\n"
        "    except ModuleNotFoundError as exc:\n"
        "        print(exc.name, _PANDAS_AVAILABLE, pl.DataFrame({'a': [1]}).height)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["pandas", "False", "1"]
    with pandas_lookups_answered(), pandas_lookups_answered():  # nested, or in two threads: each its own
        assert len([f for f in sys.meta_path if type(f).__name__ == "_Missing"]) == 2
    assert not [f for f in sys.meta_path if type(f).__name__ == "_Missing"]

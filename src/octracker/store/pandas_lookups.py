"""DuckDB's look-ups of pandas, answered at once where pandas is not installed.

DuckDB's Python client imports pandas twice for every parameter value of a statement it converts (to tell pandas'
missing values from the others). Python does not remember an import that failed, so where pandas is not installed
each of them searches every folder of `sys.path` again: 316 searches in a small refresh, 13 ms of the writer's Python.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

#: The package DuckDB looks for; none of the engine's libraries needs it.
PANDAS = "pandas"


class _Missing:
    """A finder of `sys.meta_path` that answers that pandas is not installed, as the finders after it would, without
    searching `sys.path`; it leaves every other import to them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] == PANDAS:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def pandas_installed() -> bool:
    """Whether pandas can be imported (or is)."""
    if sys.modules.get(PANDAS) is not None:
        return True
    try:
        return importlib.util.find_spec(PANDAS) is not None
    except (ImportError, ValueError):  # another block of `pandas_lookups_answered` holds: not installed
        return False


@contextlib.contextmanager
def pandas_lookups_answered() -> Iterator[None]:
    """For the block, an import of pandas fails at once where it is not installed (an import, in any thread, fails as
    it would have, with the same error); where it is installed nothing changes."""
    if pandas_installed():
        yield
        return
    finder = _Missing()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)

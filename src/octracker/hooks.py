"""Functions other parts of octracker provide when they are installed, looked up by module and name."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def find_function(module_name: str, function_name: str) -> Callable | None:
    """`module_name.function_name`, or None when that module or function is not part of this install.

    An import error from inside an existing module is raised: a broken module must not look absent.
    """
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, function_name, None)

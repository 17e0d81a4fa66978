"""The user's cache folder, where octracker keeps what it can make again (templates of new warehouses, DuckDB
extensions of a read-only environment, what large TOML files parsed to)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_folder() -> Path | None:
    """octracker's folder in the user's cache: `$XDG_CACHE_HOME/octracker`, else `~/.cache/octracker`; None when
    the user has no home folder to find (and XDG_CACHE_HOME is not set)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder to find
            return None
    return Path(base) / "octracker"

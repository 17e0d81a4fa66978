"""Pandera's `str_matches` for polars, judged once per distinct value: the same check, at a fraction of the cost.

The contract (`schemas/observation.py`) matches indicator ids, places and flags against patterns. A column repeats a
few hundred values over millions of rows, and a regular expression run on every row was a third of the contract's
checks (10M rows: 0.25 s of CPU). Registered by `octracker.extract.validation.load_pandera` in place of Pandera's own
for polars data, for every schema: a column whose distinct values all match passes at once; any other gets Pandera's
own per-row answer, so a failing row is reported exactly as before (its index, hence its file row, and its value).

No `from __future__ import annotations` here: Pandera dispatches a check on its first parameter's annotation, which
must be the class itself, not its name.
"""

import re

import polars as pl
from pandera.api.extensions import register_builtin_check
from pandera.api.polars.types import PolarsData


@register_builtin_check(error="str_matches('{pattern}')")
def str_matches(data: PolarsData, pattern: str | re.Pattern) -> pl.LazyFrame | bool:
    """Whether every value starts with a match of `pattern` (Pandera's `str_matches`, its pattern anchored the same)."""
    pattern = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    if not pattern.startswith("^"):
        pattern = f"^{pattern}"
    matches = pl.col(data.key).str.contains(pattern=pattern)
    # A null value is left to Pandera's own rule for nulls (its `ignore_na`): a column with one is judged row by row.
    distinct = data.lazyframe.select(pl.col(data.key).unique()).select(matches.all(ignore_nulls=False))
    if distinct.collect().item() is True:
        return True
    return data.lazyframe.select(matches)

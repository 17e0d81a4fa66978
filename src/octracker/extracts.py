"""What an extractor returns: canonical rows plus the problems that refuse the document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from octracker.problems import Problem

#: The canonical observation columns with their Polars types (the model is schemas/observation.py).
OBSERVATION_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(),
    "geo": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "year": pl.Int32(),
    "value": pl.Float64(),
    "unit": pl.String(),
    "qualifier": pl.String(),
    "is_partial": pl.Boolean(),
    "as_of": pl.Date(),
    "source_id": pl.String(),
    "method": pl.String(),
    "evidence": pl.String(),
    "note": pl.String(),
    "flags": pl.String(),
}
#: The canonical columns, then the two that point quarantine entries at the source line.
EXTRACT_SCHEMA: dict[str, pl.DataType] = {**OBSERVATION_SCHEMA, "_line_no": pl.Int64(), "_raw": pl.String()}


#: An extra column a reader may give: whether the row starts a run of rows of one series (its indicator_id and geo
#: differ from the row's before it; the first row always does). A writer then finds each run's series id without
#: comparing every row's text again (see `octracker.store.series_keys.SeriesIds.of`).
SERIES_STARTS = "_series_start"


#: Given the row hashes of a table, those of rows the warehouse holds current for its source, read under the same
#: rules (it may answer with more: every current hash); a row among them gives the same observation again. It may
#: also answer with none for a table the writer compares by key (see `octracker.store.history.known_row_hashes`):
#: the writer then finds those rows itself, by the hash of their key's current version.
KnownRows = Callable[[pl.Series], pl.Series]
#: The name of a KnownRows answer that holds every current hash of the source (not only those the table states). In
#: it the hash of a version read from table row r (cited by number) sits at index r - 1, with nulls where no version
#: is, and the others after: a row of the next edition that kept its place and cells is found by its place.
ALL_CURRENT = "all_current_row_hashes"


def empty_observations() -> pl.DataFrame:
    """A frame with the extract columns and no rows."""
    return pl.DataFrame(schema=EXTRACT_SCHEMA)


@dataclass
class Extract:
    """Rows in the canonical observation columns (extra columns start with `_`), and problems.

    `_line_no` and `_raw`, when present, point quarantine entries at the source line; `_row_hash`, when
    present, is stored with each version (see `restated` and `octracker.store.history`).
    A non-empty `problems` list refuses the whole document: nothing from it is loaded.
    """

    frame: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)
    #: Hashes (`_row_hash`) of rows not read again because the warehouse holds them current, unchanged.
    restated: pl.Series | None = None
    #: With `restated`, when the reader was told every current hash (ALL_CURRENT): those the table no longer states.
    unstated: pl.Series | None = None
    #: Rows set aside on purpose, each with its reason: they do not refuse the document, and go to quarantine
    #: beside the rows that are loaded.
    left_out: list[Problem] = field(default_factory=list)
    #: Columns of `frame` that hold one value in every row, with that value (the source, the method, a reference's
    #: citation): a writer may pass it once instead of once per row.
    constant: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

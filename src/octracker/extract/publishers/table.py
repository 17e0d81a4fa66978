"""What a publisher reader returns: one row per published cell, keyed by the publisher's own codes."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import polars as pl

from octracker.extracts import Problem

#: One row per published cell. `native_id` is `<provider>.<dataset>.<code>[.<code>...]` in lower case, the
#: dataset's dimension codes in the dataset's order without geography and time (CONTRACT.md, Identifiers).
#: `geo` is already the contract's id (`BE`, `GR` for Eurostat `EL`, `EU27_2020`, `NL-GM0363`).
#: `value` is null for a cell published without a number (confidential, not available); `flags` keeps the
#: publisher's observation flags as published (`p`, `bp`, ...), null when none. `unit` is the publisher's
#: unit code or label. `_line_no` locates the cell in the file (row number, or the flat index of a JSON-stat
#: cell) and `_raw` is the published text of that row or cell: together they are the evidence.
PUBLISHER_SCHEMA = pl.Schema(
    {
        "native_id": pl.String(),
        "geo": pl.String(),
        "period": pl.String(),
        "period_start": pl.Date(),
        "period_end": pl.Date(),
        "year": pl.Int32(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "qualifier": pl.String(),
        "flags": pl.String(),
        "_line_no": pl.Int64(),
        "_raw": pl.String(),
    }
)


_NONZERO_MANTISSA = re.compile(r"^[^eE]*[1-9]")


class ImpossibleNumber(ValueError):
    """A number written correctly that a float cannot hold (it would read as 0 or as infinity)."""


def published_float(text: str) -> float:
    """A published number as a float, refusing one a float cannot hold rather than reading it as another.

    `1E-400` would read as 0 and `1E400` as infinity: a number that is not zero must not become zero, nor any
    number infinite. Also the `parse_float` of `json.loads`, so a JSON number is checked as it is read.
    """
    value = float(text)
    if math.isinf(value) and not text.strip().lstrip("+-").lower().startswith("inf"):
        raise ImpossibleNumber(f"{text!r} is too large for a number octracker can hold")
    if value == 0 and _NONZERO_MANTISSA.match(text.strip()):
        raise ImpossibleNumber(f"{text!r} is too small for a number octracker can hold: it would read as 0")
    return value


def empty_publisher_rows() -> pl.DataFrame:
    """A frame with the publisher columns and no rows."""
    return pl.DataFrame(schema=PUBLISHER_SCHEMA)


@dataclass
class PublisherTable:
    """A publisher's table as read: its rows, what the publisher says about it, and problems.

    A non-empty `problems` list refuses the whole file, as for every other extract.
    """

    provider: str
    dataset: str
    frame: pl.DataFrame
    title: str | None = None
    #: When the publisher last changed the table (Eurostat `updated`, SDMX `LAST UPDATE`, CBS
    #: `TableInfos.Modified`, UNODC release date): the vintage of these numbers.
    updated: dt.datetime | None = None
    problems: list[Problem] = field(default_factory=list)
    #: For a workbook of one sheet per period (the GI-TOC index, a sheet per edition): the sheet each period was
    #: read from, by `period`. A value's evidence then names its sheet and row (`_line_no`) too.
    sheets: dict[str, str] = field(default_factory=dict)
    #: Rows left out on purpose, each with its reason and raw row (an area the contract has no geography for):
    #: they do not refuse the file; the loader puts them in quarantine beside the rows it loads.
    left_out: list[Problem] = field(default_factory=list)
    #: Every row's `_line_no` is the line of the file its record starts on, as `table_row_texts` of
    #: `octracker.extract.long_table` numbers them and gives that record back (`_raw`): a large table may cite its
    #: rows by that number instead of copying them (see `octracker.extract.publishers.canonical`).
    cites_lines: bool = False
    #: Every row's `_line_no` is the flat index of its cell in the cube (a JSON-stat body): a large table may cite
    #: its cells by that index, the document read again to print them (see `octracker.extract.publishers.canonical`).
    cites_cells: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

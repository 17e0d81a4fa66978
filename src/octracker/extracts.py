"""What an extractor returns: canonical rows plus the problems that refuse the document."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Problem:
    """One refused line, row or file: which check failed, where, and the raw text."""

    check: str
    message: str
    payload: str
    line_no: int | None = None

    def describe(self, file: str) -> str:
        where = f"{file}, line {self.line_no}" if self.line_no is not None else file
        return f"{where}: {self.check}: {self.message}"


@dataclass
class Extract:
    """Rows in the canonical observation columns (extra columns start with `_`), and problems.

    `_line_no` and `_raw`, when present, point quarantine entries at the source line.
    A non-empty `problems` list refuses the whole document: nothing from it is loaded.
    """

    frame: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

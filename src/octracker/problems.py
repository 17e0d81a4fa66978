"""A refused line, row or file: what every reader, check and route reports, without loading a table library."""

from __future__ import annotations

from dataclasses import dataclass


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

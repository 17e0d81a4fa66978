"""Rendering rows for people (aligned tables) and for programs (CSV, JSON)."""

from __future__ import annotations

import decimal
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from octracker.csv_rows import csv_safe, plain_value, write_csv_rows

__all__ = ["FORMATS", "csv_safe", "print_rows", "render_csv", "render_json", "rows_table"]

FORMATS = ("table", "csv", "json")


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    write_csv_rows(buffer, rows, columns)
    return buffer.getvalue()


def render_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps(
        [{c: plain_value(v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False, indent=2, default=str
    )


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(plain_value(value))


def is_numeric_column(rows: Sequence[Sequence[Any]], index: int) -> bool:
    """A column whose every non-NULL value is a number (booleans are not), to align it right."""
    values = [row[index] for row in rows if row[index] is not None]
    return bool(values) and all(
        isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) for v in values
    )


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    """An aligned table: numbers right-aligned, long text folded within its column."""
    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, overflow="fold", justify="right" if is_numeric_column(rows, index) else "left")
    for row in rows:
        table.add_row(*(format_cell(v) for v in row))
    return table


def print_rows(
    console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, title: str | None = None
) -> None:
    """Print rows in the chosen format; CSV and JSON go out unstyled so pipes get clean data."""
    if fmt == "csv":
        console.file.write(render_csv(columns, rows))
    elif fmt == "json":
        console.file.write(render_json(columns, rows) + "\n")
    else:
        # Cells are data, not rich markup: a "[red]" in a document must print as written.
        console.print(rows_table(columns, rows, title), markup=False, highlight=False)

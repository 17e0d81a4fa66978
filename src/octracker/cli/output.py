"""Rendering rows for people (aligned tables) and for programs (CSV, JSON)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json")
#: Leading characters a spreadsheet would run as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def csv_safe(value: Any) -> Any:
    """Quote a text cell that a spreadsheet would otherwise evaluate as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_safe(_plain(v)) if v is not None else "" for v in row])
    return buffer.getvalue()


def render_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps([{c: _plain(v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False,
                      indent=2, default=str)


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(_plain(value))


def print_rows(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
               title: str | None = None) -> None:
    """Print rows in the chosen format; CSV and JSON go out unstyled so pipes get clean data."""
    if fmt == "csv":
        console.file.write(render_csv(columns, rows))
    elif fmt == "json":
        console.file.write(render_json(columns, rows) + "\n")
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(format_cell(v) for v in row))
        console.print(table)

"""CSV rows that are safe to open in a spreadsheet: formulas quoted, lists as JSON, NULL as empty."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

#: Leading characters a spreadsheet would run as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def plain_value(value: Any) -> Any:
    """Dates as ISO text and decimals as floats: what JSON and CSV can carry."""
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


def csv_cell(value: Any) -> Any:
    """One value as a CSV cell: empty for NULL, JSON for lists and structs, formula-safe text."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return csv_safe(json.dumps(value, ensure_ascii=False, default=plain_value))
    return csv_safe(plain_value(value))


def write_csv_rows(fh: io.TextIOBase, rows: Iterable[Sequence[Any]], columns: Sequence[str] | None = None) -> None:
    """Write rows (and the header when given) as CSV, every cell through `csv_cell`."""
    writer = csv.writer(fh, lineterminator="\n")
    if columns is not None:
        writer.writerow([csv_safe(c) for c in columns])
    writer.writerows([csv_cell(v) for v in row] for row in rows)

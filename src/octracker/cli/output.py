"""Rendering rows for people (aligned tables) and for programs (CSV, JSON)."""

from __future__ import annotations

import decimal
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from octracker.csv_rows import csv_safe, plain_value, write_csv_rows

if TYPE_CHECKING:  # rich loads only for tables a person reads; CSV and JSON start without it
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "FORMATS",
    "csv_safe",
    "echo_rows",
    "format_option",
    "print_rows",
    "readable_cells",
    "readable_number",
    "render_csv",
    "render_json",
    "rows_table",
    "show_table",
    "showing_line",
]

FORMATS = ("table", "csv", "json")
#: `--format table|csv|json`, one option for every command that lists rows.
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format: an aligned table for people, CSV or JSON for programs.",
)


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


def decimals(value: float) -> int:
    """Decimals a number needs to say what it means: none for a whole number, 2 for 6.5 or 86.56, 3 digits below 1."""
    size = abs(value)
    if value == int(value) or size >= 10_000:
        return 0
    if size >= 100:
        return 1
    if size >= 1:
        return 2
    written = f"{size:.3g}"
    return min(6, max(2, len(written.split(".")[1]) if "." in written and "e" not in written else 6))


def readable_number(value: float, *, percent: bool = False, places: int | None = None) -> str:
    """A number rounded to what it means for a reader: 22.2 (%), 86.56, 0.0123, 14,610."""
    if percent:
        return f"{value:.1f}"
    places = decimals(value) if places is None else places
    return f"{value:,.{places}f}" if abs(value) >= 10_000 else f"{value:.{places}f}"


def readable_cells(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    """Cells for a person: each numeric column at one number of decimals (5.00 beside 6.50), percentages at one."""
    percent = percent_columns(columns)
    places = []
    for index in range(len(columns)):
        floats = [row[index] for row in rows if isinstance(row[index], float)]
        places.append(max((decimals(v) for v in floats), default=0))
    return [
        [
            readable_number(v, percent=percent[i], places=places[i]) if isinstance(v, float) else format_cell(v)
            for i, v in enumerate(row)
        ]
        for row in rows
    ]


def percent_columns(columns: Sequence[str]) -> list[bool]:
    """Which columns hold percentages (pct_change), shown to one decimal."""
    return [c.startswith("pct") or c.endswith("%") for c in columns]


def is_numeric_column(rows: Sequence[Sequence[Any]], index: int) -> bool:
    """A column whose every non-NULL value is a number (booleans are not), to align it right."""
    values = [row[index] for row in rows if row[index] is not None]
    return bool(values) and all(
        isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) for v in values
    )


def rows_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None, *, readable: bool = False
) -> Table:
    """An aligned table: numbers right-aligned, long text folded within its column.

    `readable` rounds numbers to what they mean (a percentage to one decimal) for tables the program
    chose; a person's own `sql` query keeps six significant digits.
    """
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, overflow="fold", justify="right" if is_numeric_column(rows, index) else "left")
    cells = readable_cells(columns, rows) if readable else [[format_cell(v) for v in row] for row in rows]
    for row in cells:
        table.add_row(*row)
    return table


def showing_line(shown: int, total: int, what: str, rest: str) -> str | None:
    """'showing N of M …' under a cut list, and on a line of its own the command that prints them all."""
    if total <= shown:
        return None
    return f"showing {shown} of {total} {what}; all of them:\n  {rest}"


def echo_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Rows as CSV or JSON on stdout, for programs (no console, so no rich to load)."""
    if fmt == "csv":
        click.echo(render_csv(columns, rows), nl=False)
    else:
        click.echo(render_json(columns, rows))


def print_rows(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    title: str | None = None,
    *,
    readable: bool = False,
) -> None:
    """Print rows in the chosen format; CSV and JSON go out unstyled so pipes get clean data."""
    if fmt in ("csv", "json"):
        echo_rows(columns, rows, fmt)
    else:
        # Cells are data, not rich markup: a "[red]" in a document must print as written.
        plain = readable_cells(columns, rows) if readable else [[format_cell(v) for v in row] for row in rows]
        right = [c for i, c in enumerate(columns) if is_numeric_column(rows, i)]
        show_table(console, rows_table(columns, rows, title, readable=readable), columns, plain, right)


def fitted_lines(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int, right: Sequence[str] = ()
) -> list[str]:
    """Rows laid out in at most `width` characters: the widest column gives up room first, a cut cell ends in '…'."""
    sizes = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows)]
    gap = 2
    while sum(sizes) + gap * (len(sizes) - 1) > width and max(sizes) > 4:
        sizes[sizes.index(max(sizes))] -= 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for cell, size, name in zip(cells, sizes, columns):
            text = str(cell) if len(str(cell)) <= size else str(cell)[: size - 1] + "…"
            parts.append(text.rjust(size) if name in right else text.ljust(size))
        return (" " * gap).join(parts).rstrip()[:width]

    return [line(columns), line(["-" * s for s in sizes]), *(line(r) for r in rows)]


def fits(console: Console, renderable: Any) -> bool:
    """Whether a table fits the terminal at its natural width (nothing folded)."""
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(100_000), renderable)
    return natural.maximum <= console.width


def show_table(
    console: Console,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    right: Sequence[str] = (),
) -> None:
    """The boxed table when it fits the terminal; otherwise its title and compact lines that fit."""
    if fits(console, table):
        console.print(table, markup=False, highlight=False)
        return
    if table.title:
        console.print(str(table.title), markup=False, highlight=False)
    for text in fitted_lines(columns, [[str(c) for c in r] for r in rows], console.width, right):
        console.print(text, markup=False, highlight=False, crop=True, soft_wrap=True)

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
#: Rows up to which a table is drawn boxed when it fits; longer lists print as aligned lines.
BOXED_ROWS = 500


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
    whole: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> None:
    """Print rows in the chosen format; CSV and JSON go out unstyled so pipes get clean data. On a narrow
    terminal columns in `optional` give way first and those in `whole` are cut last (see fitted_lines)."""
    if fmt in ("csv", "json"):
        echo_rows(columns, rows, fmt)
    else:
        # Cells are data, not rich markup: a "[red]" in a document must print as written.
        plain = readable_cells(columns, rows) if readable else [[format_cell(v) for v in row] for row in rows]
        right = [c for i, c in enumerate(columns) if is_numeric_column(rows, i)]
        if len(rows) > BOXED_ROWS:
            # A long list (every change of a first refresh: tens of thousands) as aligned lines, written at once:
            # measuring a boxed table of every row took a minute.
            lines = fitted_lines(columns, plain, console.width or 80, right, whole=whole, optional=optional)
            console.file.write("\n".join(([title] if title else []) + lines) + "\n")
            return
        table = rows_table(columns, rows, title, readable=readable)
        show_table(console, table, columns, plain, right, whole=whole, optional=optional)


def fitted_lines(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    right: Sequence[str] = (),
    *,
    whole: Sequence[str] = (),
    optional: Sequence[str] = (),
    all_columns: str = "",
) -> list[str]:
    """Rows laid out in at most `width` characters.

    Columns in `optional` are left out first, in that order, until the rest fits; then the widest column gives up
    room, a cut cell ending in '…'. A column in `whole` (a name people type, such as a pipeline's) is cut only when
    nothing else can give up room any more. A last line names the columns left out, and `all_columns` (a command)
    where to see them.
    """
    gap = 2
    keep = list(range(len(columns)))
    sizes = {i: max(len(str(cell)) for cell in column) for i, column in enumerate(zip(columns, *rows))}

    def total() -> int:
        return sum(sizes[i] for i in keep) + gap * (len(keep) - 1)

    for name in optional:
        if total() <= width:
            break
        if name in columns:
            keep.remove(columns.index(name))
    for shrinkable in ([i for i in keep if columns[i] not in whole], keep):
        while total() > width and shrinkable and max(sizes[i] for i in shrinkable) > 4:
            widest = max(shrinkable, key=lambda i: sizes[i])
            sizes[widest] -= 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i in keep:
            cell, size = str(cells[i]), sizes[i]
            text = cell if len(cell) <= size else cell[: size - 1] + "…"
            parts.append(text.rjust(size) if columns[i] in right else text.ljust(size))
        return (" " * gap).join(parts).rstrip()[:width]

    lines = [line(columns), line(["-" * sizes[i] for i in range(len(columns))]), *(line(r) for r in rows)]
    left_out = [c for i, c in enumerate(columns) if i not in keep]
    if left_out:
        lines.append(f"not shown at {width} columns: {', '.join(left_out)}" + ("; all of them:" if all_columns else ""))
        if all_columns:
            lines.append(f"  {all_columns}")
    return lines


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
    *,
    whole: Sequence[str] = (),
    optional: Sequence[str] = (),
    all_columns: str = "",
) -> None:
    """The boxed table when it fits the terminal; otherwise its title and compact lines that fit (see
    fitted_lines for `whole`, `optional` and `all_columns`)."""
    if fits(console, table):
        console.print(table, markup=False, highlight=False)
        return
    if table.title:
        console.print(str(table.title), markup=False, highlight=False)
    cells = [[str(c) for c in r] for r in rows]
    lines = fitted_lines(columns, cells, console.width, right, whole=whole, optional=optional, all_columns=all_columns)
    for text in lines:
        console.print(text, markup=False, highlight=False, crop=True, soft_wrap=True)

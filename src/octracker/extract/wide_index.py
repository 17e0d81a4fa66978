"""Wide index tables (`oci_wide`, CSV or XLSX): one row per country, one column per index indicator."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from octracker.content.catalog import Catalog, Indicator, name_key
from octracker.countries import country_code
from octracker.extract.publishers.workbooks import uncomputed_cell_problem
from octracker.extract.table_files import (
    MiB,
    check_size,
    check_text,
    check_zip,
    csv_separator,
    file_problem,
    sniff_format,
)
from octracker.extracts import EXTRACT_SCHEMA, Extract, Problem

#: Header spellings (after name_key) of the column that names the country.
COUNTRY_COLUMNS = ("country", "country_name", "country_or_territory", "country_territory", "countries", "pays", "land")
#: Columns an index table carries besides scores; read past without a problem.
IGNORED_COLUMNS = (
    "rank",
    "region",
    "subregion",
    "sub_region",
    "continent",
    "iso",
    "iso2",
    "iso3",
    "iso_code",
    "iso_alpha_2",
    "iso_alpha_3",
    "code",
    "country_code",
    "year",
    "edition",
    "population",
    "income_group",
    "notes",
)
IGNORED_SUFFIXES = ("_rank",)
#: Cells that say "no score" rather than holding a wrong one; skipped like empty cells.
NOT_AVAILABLE = ("n/a", "na", "-", "–", "—", "..")
#: The header may sit under a title; it is looked for in this many first rows.
HEADER_SEARCH_ROWS = 20
#: An index has one row per country (under 200); far more means this is not one.
MAX_ROWS = 5000
NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")


@dataclass(frozen=True)
class Cell:
    """A cell's value as read (str, number or None) and its text as a reader would see it."""

    value: object
    text: str


@dataclass(frozen=True)
class Column:
    """A header cell that holds scores: its position, its header as written, and the indicator."""

    index: int
    header: str
    indicator: Indicator


def extract_wide_index(
    path: Path,
    *,
    source_id: str,
    edition: int,
    catalog: Catalog,
    max_bytes: int = 200 * MiB,
) -> Extract:
    """Read a wide index table (CSV or XLSX, told apart by magic bytes) into canonical rows for one edition."""
    # Load inputs.
    if not 1900 <= edition <= 2100:
        return _refused(file_problem("bad_edition", f"edition {edition} is not a year; pass --edition YYYY", path))
    kind = sniff_format(path)
    if kind == "parquet":
        return _refused(file_problem("wrong_format", "a Parquet file is not a wide index table", path))
    rows = _xlsx_rows(path, max_bytes) if kind == "xlsx" else _csv_rows(path, max_bytes)
    if isinstance(rows, Problem):
        return _refused(rows)

    # Process data.
    found = find_header(rows)
    if found is None:
        return _refused(
            file_problem(
                "missing_column", f"no Country column in the first {HEADER_SEARCH_ROWS} rows; name it 'Country'", path
            )
        )
    at, header = found
    columns, problems = score_columns(rows[at], header, rows[at + 1 :], catalog)
    if not columns and not problems:
        problems.append(
            Problem("missing_column", "no index indicator columns next to Country", _joined(rows[at][1]), rows[at][0])
        )
    records = []
    seen: dict[str, int] = {}
    for row_no, cells in rows[at + 1 :]:
        row_records, row_problems = _read_row(row_no, cells, header, columns, seen, path.name)
        records += row_records
        problems += row_problems
    frame = pl.DataFrame(records, schema={k: EXTRACT_SCHEMA[k] for k in _ROW_FIELDS}, orient="row")
    return Extract(frame=_canonical(frame, source_id, edition), problems=problems)


def _refused(*problems: Problem) -> Extract:
    return Extract(frame=pl.DataFrame(schema=EXTRACT_SCHEMA), problems=list(problems))


# --- reading ---------------------------------------------------------------------------------------------


def _csv_rows(path: Path, max_bytes: int) -> list[tuple[int, list[Cell]]] | Problem:
    """Rows of a CSV as (first line number, cells)."""
    refused = check_size(path, max_bytes) or check_text(path)
    if refused:
        return refused
    rows: list[tuple[int, list[Cell]]] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        separator = csv_separator(fh.readline())
        fh.seek(0)
        reader = csv.reader(fh, delimiter=separator)
        line_no = 1
        for record in reader:
            if len(rows) >= MAX_ROWS:
                return _too_many_rows(path)
            rows.append((line_no, [Cell(v, v) for v in record]))
            line_no = reader.line_num + 1
    return rows


def _xlsx_rows(path: Path, max_unzipped: int) -> list[tuple[int, list[Cell]]] | Problem:
    """Rows of the first sheet that has a Country header (else the first sheet), as (row number, cells)."""
    refused = check_zip(path, max_unzipped) or uncomputed_cell_problem(path)
    if refused:
        return refused
    try:
        with _workbook(path) as workbook:
            first = None
            for sheet in workbook.worksheets:
                rows = _sheet_rows(sheet, path)
                if isinstance(rows, Problem) or find_header(rows) is not None:
                    return rows
                first = rows if first is None else first
    except Exception as exc:  # openpyxl and its XML parser raise many types for a damaged workbook
        return file_problem("unreadable_file", f"not a readable XLSX workbook: {exc}", path)
    return first if first is not None else file_problem("empty_file", "the workbook has no sheets", path)


@contextmanager
def _workbook(path: Path) -> Iterator:
    """The workbook read-only with the values Excel last computed; opened from a handle so that the file's
    extension does not matter (openpyxl refuses a path not ending in .xlsx)."""
    import openpyxl  # 0.1-0.2 s to import: only for the index workbooks it reads, not for every load

    with open(path, "rb") as fh:
        workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        try:
            yield workbook
        finally:
            workbook.close()


def xlsx_head_rows(path: Path) -> list[tuple[int, list[Cell]]]:
    """The first rows of the first sheet with a Country header (of each sheet in turn); [] if unreadable.

    Check the archive with check_zip first: opening a workbook reads its shared strings whole.
    """
    try:
        with _workbook(path) as workbook:
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()
                rows = [
                    (n, [Cell(c.value, _xlsx_text(c.value, None)) for c in row])
                    for n, row in enumerate(sheet.iter_rows(max_row=HEADER_SEARCH_ROWS), start=1)
                ]
                if find_header(rows) is not None:
                    return rows
    except Exception:  # not a workbook we can read: not a table we know
        return []
    return []


def _sheet_rows(sheet, path: Path) -> list[tuple[int, list[Cell]]] | Problem:
    # The stored dimensions can claim a million rows; reading past them row by row is bounded by MAX_ROWS.
    sheet.reset_dimensions()
    rows = []
    for row_no, row in enumerate(sheet.iter_rows(), start=1):
        if row_no > MAX_ROWS + HEADER_SEARCH_ROWS:
            return _too_many_rows(path)
        rows.append((row_no, [Cell(c.value, _xlsx_text(c.value, getattr(c, "number_format", None))) for c in row]))
    return rows


def _xlsx_text(value: object, number_format: str | None) -> str:
    """A cell's text as the sheet shows it: a number with the decimals of its '0.00' format."""
    if value is None:
        return ""
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        decimals = re.fullmatch(r"0\.(0+)", number_format or "")
        return f"{value:.{len(decimals.group(1))}f}" if decimals else str(value)
    return str(value)


def _too_many_rows(path: Path) -> Problem:
    return file_problem("too_large", f"more than {MAX_ROWS:,} rows; an index table has one row per country", path)


# --- header ----------------------------------------------------------------------------------------------


def find_header(rows: list[tuple[int, list[Cell]]]) -> tuple[int, list[str]] | None:
    """Position and cell texts of the first row (among the first few) that has a Country column."""
    for at, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        header = [c.text.strip() for c in cells]
        if any(name_key(h) in COUNTRY_COLUMNS for h in header):
            return at, header
    return None


def is_ignored_column(header: str) -> bool:
    """True for a known non-score column (Rank, Region, ISO3…), kept as data in IGNORED_COLUMNS."""
    key = name_key(header)
    return key in IGNORED_COLUMNS or key.endswith(IGNORED_SUFFIXES)


def score_columns(
    header_row: tuple[int, list[Cell]],
    header: list[str],
    body: list[tuple[int, list[Cell]]],
    catalog: Catalog,
) -> tuple[list[Column], list[Problem]]:
    """The indicator each score column holds; unknown and repeated columns as problems."""
    row_no, cells = header_row
    raw = _joined(cells)
    country_at = next(i for i, h in enumerate(header) if name_key(h) in COUNTRY_COLUMNS)
    columns: list[Column] = []
    problems: list[Problem] = []
    for i, text in enumerate(header):
        if i == country_at or (text and is_ignored_column(text)):
            continue
        if not text:
            if any(i < len(r) and r[i].text.strip() for _, r in body):
                problems.append(
                    Problem("unknown_column", f"column {i + 1} holds values but has no header", raw, row_no)
                )
            continue
        indicator = catalog.by_name(text, prefix="oci.")
        if indicator is None:
            problems.append(
                Problem(
                    "unknown_column",
                    f"column {text!r} is not an index indicator in schemas/indicators.toml; rename it "
                    "or add an alias there (non-score columns such as Rank or Region are skipped)",
                    raw,
                    row_no,
                )
            )
        elif any(c.indicator == indicator for c in columns):
            problems.append(Problem("duplicate_column", f"column {text!r} repeats {indicator.id}", raw, row_no))
        else:
            columns.append(Column(i, text, indicator))
    return columns, problems


def _joined(cells: list[Cell]) -> str:
    return ",".join(c.text for c in cells)


# --- rows ------------------------------------------------------------------------------------------------

_ROW_FIELDS = ("indicator_id", "geo", "value", "unit", "evidence", "_line_no", "_raw")


def _read_row(
    row_no: int,
    cells: list[Cell],
    header: list[str],
    columns: list[Column],
    seen: dict[str, int],
    file: str,
) -> tuple[list[tuple], list[Problem]]:
    """Records (in _ROW_FIELDS order) and problems for one country row; an empty row gives neither."""
    raw = _joined(cells)
    if not raw.strip(","):
        return [], []
    if len(cells) > len(header) and any(c.text.strip() for c in cells[len(header) :]):
        return [], [Problem("ragged_row", f"{len(cells)} cells but the header has {len(header)}", raw, row_no)]
    country_at = next(i for i, h in enumerate(header) if name_key(h) in COUNTRY_COLUMNS)
    country = cells[country_at].text.strip() if country_at < len(cells) else ""
    geo = country_code(country)
    if geo is None:
        what = f"country {country!r} is not" if country else "the Country cell is empty, not"
        return [], [
            Problem(
                "unknown_country",
                f"{what} a country name or ISO code pycountry or the alias table "
                "knows; add the spelling to COUNTRY_ALIASES",
                raw,
                row_no,
            )
        ]
    if geo in seen:
        return [], [Problem("duplicate_key", f"{country} ({geo}) already has a row at row {seen[geo]}", raw, row_no)]
    seen[geo] = row_no
    records, problems = [], []
    for column in columns:
        cell = cells[column.index] if column.index < len(cells) else Cell(None, "")
        value, error = _score(cell)
        where = f"{country}, {column.header}"
        if error:
            problems.append(Problem("bad_number", f"{where}: {error}", raw, row_no))
        elif value is not None and not column.indicator.min <= value <= column.indicator.max:
            problems.append(
                Problem(
                    "out_of_range",
                    f"{where}: {cell.text} is outside {column.indicator.min:g} to {column.indicator.max:g}",
                    raw,
                    row_no,
                )
            )
        elif value is not None:
            evidence = f"{file} row {row_no}: {where} = {cell.text.strip()}"
            records.append((column.indicator.id, geo, value, column.indicator.unit, evidence, row_no, raw))
    return records, problems


def _score(cell: Cell) -> tuple[float | None, str | None]:
    """(value, None), (None, None) for an empty or 'n/a' cell, or (None, why it is not a number)."""
    value = cell.value
    if isinstance(value, bool) or isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return None, f"{cell.text!r} is not a number"
    if isinstance(value, (int, float)):
        return (float(value), None) if math.isfinite(value) else (None, f"{cell.text!r} is not a finite number")
    text = "" if value is None else str(value).strip()
    if not text or text.lower() in NOT_AVAILABLE:
        return None, None
    if not NUMBER.match(text):
        return None, f"{text!r} is not a number"
    return float(text), None


def _canonical(frame: pl.DataFrame, source_id: str, edition: int) -> pl.DataFrame:
    """Canonical rows: every score is for the whole edition year, exact, as the table prints it."""
    return frame.with_columns(
        period_start=pl.lit(dt.date(edition, 1, 1)),
        period_end=pl.lit(dt.date(edition, 12, 31)),
        year=pl.lit(edition, pl.Int32),
        qualifier=pl.lit("exact"),
        is_partial=pl.lit(False),
        as_of=pl.lit(None, pl.Date),
        source_id=pl.lit(source_id),
        method=pl.lit("parsed"),
        note=pl.lit(None, pl.String),
        flags=pl.lit(None, pl.String),
    ).select(list(EXTRACT_SCHEMA))

"""The GI-TOC Global Organized Crime Index workbook (`oci_workbook`): one sheet per edition, every country.

Every sheet named `<year>_dataset` is the edition of that year (2021 and 2023 in the published workbook; a
`2025_dataset` sheet is read the day it appears); other sheets (the cover) are not data. Each sheet has a
header row with a Country column and one column per index indicator, named as the index names it; the
columns are matched to the catalog by the `oci_wide` reader's rules (`Criminality avg,`, `avg.` and plain
names alike). An indicator an edition does not score has no column there and stays absent, never 0.
Scores are rounded to the index's two decimals: the workbook stores some with float noise
(4.4000000000000004 for 4.40).
"""

from __future__ import annotations

import re

import polars as pl

from octracker.content.catalog import Catalog, name_key
from octracker.countries import country_code
from octracker.extract.publishers.table import PUBLISHER_SCHEMA, PublisherTable, empty_publisher_rows
from octracker.extract.publishers.workbooks import Workbook, open_workbook
from octracker.extract.wide_index import (
    COUNTRY_COLUMNS,
    NOT_AVAILABLE,
    NUMBER,
    Cell,
    Column,
    find_header,
    score_columns,
)
from octracker.extracts import Problem

PROVIDER = "oci"
DATASET = "global_oc_index"
EDITION_SHEET = re.compile(r"^\s*(\d{4})_dataset\s*$", re.IGNORECASE)
#: The index prints scores with two decimals.
DECIMALS = 2

#: Country names in the workbook that neither pycountry nor octracker.countries' table knows.
WORKBOOK_COUNTRY_NAMES: dict[str, str] = {
    # The 2023 sheet writes the full stop of an abbreviation as a comma, as in its "Criminality avg,"
    # headers: "St." (Saint) becomes "St,". ("Congo, Dem, Rep," and "Korea, Rep," are found without help.)
    "St, Kitts and Nevis": "KN",
    "St, Lucia": "LC",
    "St, Vincent and the Grenadines": "VC",
}


def read(content: bytes, *, name: str, catalog: Catalog) -> PublisherTable:
    """Read every edition sheet of the workbook into one row per (indicator, country, edition) score."""
    # Load inputs.
    workbook = open_workbook(content, name)
    if isinstance(workbook, Problem):
        return _refused(workbook)
    editions = _edition_sheets(workbook)
    if isinstance(editions, Problem):
        return _refused(editions)

    # Process data.
    frames, problems = [], []
    for edition, sheet in editions:
        rows = _sheet_rows(workbook, sheet)
        frame, sheet_problems = _edition_rows(rows, edition, sheet, name, catalog)
        frames.append(frame)
        problems += sheet_problems
    if problems:
        return _refused(*problems)
    return PublisherTable(
        provider=PROVIDER,
        dataset=DATASET,
        frame=pl.concat(frames),
        title=_title(workbook, editions),
        sheets={str(edition): sheet for edition, sheet in editions},
    )


def _refused(*problems: Problem) -> PublisherTable:
    return PublisherTable(provider=PROVIDER, dataset=DATASET, frame=empty_publisher_rows(), problems=list(problems))


def _edition_sheets(workbook: Workbook) -> list[tuple[int, str]] | Problem:
    """(edition, sheet name) for every edition sheet, oldest first."""
    editions: dict[int, str] = {}
    for sheet in workbook.sheet_names:
        found = EDITION_SHEET.match(sheet)
        if not found:
            continue
        edition = int(found.group(1))
        if edition in editions:
            return Problem(
                "duplicate_edition",
                f"{workbook.name}: sheets {editions[edition]!r} and {sheet!r} are "
                f"both the {edition} edition; remove one",
                workbook.name,
            )
        editions[edition] = sheet
    if not editions:
        return Problem(
            "missing_sheet",
            f"{workbook.name}: no edition sheet (named like 2023_dataset) among "
            f"{', '.join(map(repr, workbook.sheet_names))}; is this the GI-TOC index workbook?",
            workbook.name,
        )
    return sorted(editions.items())


def _sheet_rows(workbook: Workbook, sheet: str) -> list[tuple[int, list[Cell]]]:
    """(Excel row number, cells) of a sheet, every cell as text: a score then reads as the workbook shows it
    (to nine decimals), and a cell written as text ("n/a") is seen rather than read as empty."""
    frame = workbook.reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    return [(n, [Cell(v, (v or "").strip()) for v in row]) for n, row in enumerate(frame.rows(), start=1)]


def _edition_rows(
    rows: list[tuple[int, list[Cell]]],
    edition: int,
    sheet: str,
    name: str,
    catalog: Catalog,
) -> tuple[pl.DataFrame, list[Problem]]:
    where = f"{name}, sheet {sheet!r}"
    found = find_header(rows)
    if found is None:
        return empty_publisher_rows(), [
            Problem("missing_column", f"{where}: no Country column in the first rows", name)
        ]
    at, header = found
    columns, problems = score_columns(rows[at], header, rows[at + 1 :], catalog)
    problems = [Problem(p.check, f"{where}: {p.message}", p.payload, p.line_no) for p in problems]
    country_at = next(i for i, h in enumerate(header) if name_key(h) in COUNTRY_COLUMNS)
    records: list[tuple] = []
    seen: dict[str, int] = {}
    for row_no, cells in rows[at + 1 :]:
        raw = ",".join(c.text for c in cells)
        if not raw.strip(","):
            continue
        country = cells[country_at].text if country_at < len(cells) else ""
        geo = WORKBOOK_COUNTRY_NAMES.get(country) or country_code(country)
        if geo is None:
            problems.append(
                Problem(
                    "unknown_country",
                    f"{where} row {row_no}: {country!r} is not a country name "
                    "pycountry knows; add it to WORKBOOK_COUNTRY_NAMES in "
                    "octracker/extract/publishers/oci_workbook.py with why",
                    raw,
                    row_no,
                )
            )
            continue
        if geo in seen:
            problems.append(
                Problem(
                    "duplicate_key",
                    f"{where} row {row_no}: {country} ({geo}) already has a row at row {seen[geo]}",
                    raw,
                    row_no,
                )
            )
            continue
        seen[geo] = row_no
        for column in columns:
            text = cells[column.index].text if column.index < len(cells) else ""
            value, problem = _score(text, column)
            if problem:
                check, message = problem
                problems.append(
                    Problem(check, f"{where} row {row_no}: {country}, {column.header}: {message}", raw, row_no)
                )
            elif value is not None:
                records.append((column.indicator.id, geo, value, column.indicator.unit, row_no, raw))
    frame = pl.DataFrame(records, schema=["native_id", "geo", "value", "unit", "_line_no", "_raw"], orient="row")
    return frame.select(
        "native_id",
        "geo",
        period=pl.lit(str(edition)),
        period_start=pl.date(edition, 1, 1),
        period_end=pl.date(edition, 12, 31),
        year=pl.lit(edition, pl.Int32),
        value="value",
        unit="unit",
        qualifier=pl.lit("exact"),
        flags=pl.lit(None, pl.String),
        _line_no="_line_no",
        _raw="_raw",
    ).cast(PUBLISHER_SCHEMA), problems


def _score(text: str, column: Column) -> tuple[float | None, tuple[str, str] | None]:
    """(score rounded to the index's decimals, None), (None, None) for no score, or (None, (check, what is wrong)).

    Called for every cell (25,000 of the 2023 workbook): where the cell is goes into a message only when it fails.
    """
    if not text or text.lower() in NOT_AVAILABLE:
        return None, None
    if not NUMBER.match(text):
        return None, ("bad_number", f"{text!r} is not a score")
    value = round(float(text), DECIMALS)
    indicator = column.indicator
    if not indicator.min <= value <= indicator.max:
        return None, ("out_of_range", f"{text} is outside {indicator.min:g} to {indicator.max:g}")
    return value, None


def _title(workbook: Workbook, editions: list[tuple[int, str]]) -> str | None:
    """The cover sheet's first cell ("GLOBAL ORGANIZED CRIME INDEX - 2023"), if the workbook has a cover."""
    sheets = {sheet for _, sheet in editions}
    cover = next((s for s in workbook.sheet_names if s not in sheets), None)
    if cover is None:
        return None
    first = workbook.reader.load_sheet(cover, header_row=None, n_rows=1, dtypes="string").to_polars()
    return (first.item(0, 0) or "").strip() or None if first.height and first.width else None

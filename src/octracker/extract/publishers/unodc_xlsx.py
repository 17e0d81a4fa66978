"""UNODC data portal exports (`unodc_xlsx`): a title row, the release date, then one row per published value.

The layout, as the portal writes it (`data_cts_*.xlsx`): row 1 `UNODC` and a contact address, row 2 the
release date (`16/05/2024`), row 3 the header `Iso3_code, Country, Region, Subregion, Indicator, Dimension,
Category, Sex, Age, Year, Unit of measurement, VALUE, Source`, then the rows. The release date is the vintage
(`updated`). Some exports write values as text: `"<5"` (a small count withheld: at most 5, an upper bound)
and `"1,757"` (thousands separators); both are read by `parse_value`.

Native ids: the export carries labels, not codes, and no dataset code; its Indicator names the table, so the
id is `unodc.<indicator>.<dimension>.<category>.<sex>.<age>.<unit>`, each label in snake_case (renaming the
file does not change the ids). Geography: ISO 3166-1 alpha-3 to alpha-2; the portal's own codes for areas
that are not ISO countries are mapped or left out as `AREA_CODES` says, each with its reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl
import pycountry

from octracker.extract.publishers.codes import label_code
from octracker.extract.publishers.table import PUBLISHER_SCHEMA, PublisherTable, empty_publisher_rows
from octracker.extract.publishers.workbooks import Workbook, head_rows, open_workbook
from octracker.extracts import Problem

if TYPE_CHECKING:
    from fastexcel import DTypeMap

PROVIDER = "unodc"
#: The columns whose labels make the native id, in this order.
ID_COLUMNS = ("Indicator", "Dimension", "Category", "Sex", "Age", "Unit of measurement")
REQUIRED_COLUMNS = ("Iso3_code", *ID_COLUMNS, "Year", "VALUE")
#: Rows named per check when many fail it; the count of the rest follows.
MAX_PROBLEMS_PER_CHECK = 20
#: The header is looked for in this many first rows.
HEADER_SEARCH_ROWS = 10
#: Cells that say "no value" in words rather than by being empty.
NOT_AVAILABLE = ("", "..", "-", "–", "—", "n/a", "na")
RELEASE_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
#: A number as an export writes it: digits with `,` between groups of three, or plain; an optional decimal part.
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[+-]?\.\d+$")
_BOUND = re.compile(r"^(<=|>=|≤|≥|<|>)\s*(.+)$")
_QUALIFIERS = {
    "<": "upper_bound",
    "<=": "upper_bound",
    "≤": "upper_bound",
    ">": "lower_bound",
    ">=": "lower_bound",
    "≥": "lower_bound",
}

#: The portal's codes for areas that are not ISO 3166-1 countries: the contract's geography, or None to leave
#: the rows out (recorded in `left_out` with the reason, never loaded under another area's name).
AREA_CODES: dict[str, tuple[str | None, str]] = {
    # The United Kingdom's three criminal justice systems report separately.
    "GBR_NI": ("GB-NIR", "Northern Ireland, its ISO 3166-2 code"),
    "GBR_S": ("GB-SCT", "Scotland, its ISO 3166-2 code"),
    "GBR_E_W": (
        None,
        "England and Wales together, an area with no ISO 3166 code (ISO 3166-2 names England "
        "and Wales apart); reading it as GB would drop Scotland and Northern Ireland",
    ),
    "IRQ_C": (
        None,
        "Central Iraq, Iraq without the Kurdistan Region: no ISO 3166 code, and reading it as IQ "
        "would pass part of the country off as the whole",
    ),
    "XKX": (
        None,
        "Kosovo (under UNSCR 1244) has no ISO 3166-1 code; XK is only user-assigned, a code the "
        "warehouse does not accept",
    ),
}


def parse_value(text: str) -> tuple[float | None, str]:
    """A VALUE cell written as text: (value, qualifier); (None, 'exact') for a cell that says "no value".

    `"1,757"` -> (1757.0, 'exact'); `"<5"` -> (5.0, 'upper_bound'); `">1,000"` -> (1000.0, 'lower_bound').
    Raises ValueError for anything else (`"1,75"` is neither a grouped nor a plain number).
    """
    stripped = text.strip()
    if stripped.lower() in NOT_AVAILABLE:
        return None, "exact"
    qualifier = "exact"
    bound = _BOUND.match(stripped)
    if bound:
        qualifier, stripped = _QUALIFIERS[bound.group(1)], bound.group(2).strip()
    if not _NUMBER.match(stripped):
        raise ValueError(
            f"{text!r} is not a number (digits, optionally grouped by ',' in threes, '.' for decimals, "
            "or one led by '<' or '>')"
        )
    return float(stripped.replace(",", "")), qualifier


def area_code(code: str) -> tuple[str | None, str | None]:
    """(geography, None) for a code that names one; (None, why it is left out); (None, None) if unknown."""
    mapped = AREA_CODES.get(code)
    if mapped:
        return mapped[0], None if mapped[0] else mapped[1]
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    return (country.alpha_2, None) if country else (None, None)


def read(content: bytes, *, name: str) -> PublisherTable:
    """Read a UNODC data portal export into one row per published value; problems refuse the whole file."""
    # Load inputs.
    workbook = open_workbook(content, name)
    if isinstance(workbook, Problem):
        return _refused(name, workbook)
    once = _read_once(workbook, content)
    if once is None:
        sheet = _sheet_text(workbook)
        head = _head(sheet)
    else:
        head, body = once
    header_at = next((i for i, row in enumerate(head) if "Iso3_code" in row), None)
    if header_at is None:
        return _refused(
            name,
            Problem(
                "missing_column",
                f"{name}: no header row with Iso3_code in the first "
                f"{HEADER_SEARCH_ROWS} rows; is this a UNODC data portal export?",
                name,
            ),
        )
    header = [c for c in head[header_at] if c]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return _refused(
            name,
            Problem(
                "missing_column",
                f"{name}: the header (row {header_at + 1}) has no {', '.join(missing)} column",
                ",".join(header),
                header_at + 1,
            ),
        )
    updated = _release_date(head[:header_at], name)
    if isinstance(updated, Problem):
        return _refused(name, updated)
    rows = _body(workbook, sheet, header_at) if once is None else body

    # Process data.
    frame, problems, left_out = _publisher_rows(rows, header_at, name)
    return PublisherTable(
        provider=PROVIDER,
        dataset=label_code(name.rsplit(".", 1)[0]),
        frame=frame,
        title=_title(head[:header_at]),
        updated=updated,
        problems=problems,
        left_out=left_out,
    )


def vintage(content: bytes, *, name: str) -> dt.datetime | None:
    """The export's release date, read from its first rows only: what `read(...).updated` says, at a fraction of
    the cost (a feed checks it before deciding to read the whole export). None when it cannot be told here."""
    head = _head_cheaply(content)
    if head is None:
        workbook = open_workbook(content, name)
        if isinstance(workbook, Problem):
            return None
        head = _head(
            workbook.reader.load_sheet(0, header_row=None, dtypes="string", n_rows=HEADER_SEARCH_ROWS).to_polars()
        )
    header_at = next((i for i, row in enumerate(head) if "Iso3_code" in row), None)
    updated = _release_date(head[:header_at], name) if header_at is not None else None
    return updated if isinstance(updated, dt.datetime) else None


def _head(sheet: pl.DataFrame) -> list[list[str]]:
    return [[(c or "").strip() for c in row] for row in sheet.head(HEADER_SEARCH_ROWS).rows()]


def _head_cheaply(content: bytes) -> list[list[str]] | None:
    """The first rows as `_head` gives them, from the start of the sheet's XML only (a few KB of an export's
    12 MB); None when that does not settle it: a number or date cell above the header (its text depends on its
    format), or no header found, and the workbook is read the usual way."""
    rows = head_rows(content, HEADER_SEARCH_ROWS)
    if rows is None:
        return None
    header_at = next((i for i, row in enumerate(rows) if "Iso3_code" in [(c or "").strip() for c in row]), None)
    if header_at is None or any(c is None for row in rows[:header_at] for c in row):
        return None
    return [[(c or "").strip() for c in row] for row in rows]


def _refused(name: str, problem: Problem) -> PublisherTable:
    return PublisherTable(
        provider=PROVIDER, dataset=label_code(name.rsplit(".", 1)[0]), frame=empty_publisher_rows(), problems=[problem]
    )


def _sheet_text(workbook: Workbook) -> pl.DataFrame:
    """The first sheet, every cell as text, with no header row (a number keeps only nine decimals here)."""
    return workbook.reader.load_sheet(0, header_row=None, dtypes="string").to_polars()


def _read_once(workbook: Workbook, content: bytes) -> tuple[list[list[str]], pl.DataFrame] | None:
    """The head rows (see `_head`) and the rows below the header (see `_body`) from one read of the sheet: every
    cell as text but VALUE's, read as numbers, whose text cells ("<5") come back as fastexcel's reports of cells
    it could not read as numbers. None when the head is not told from the sheet's XML (see `_head_cheaply`), or the
    read is not what `_head` and `_body` would see: the sheet is then read twice."""
    head = _head_cheaply(content)
    header_at = next((i for i, row in enumerate(head or []) if "Iso3_code" in row), None)
    if head is None or header_at is None or "VALUE" not in head[header_at]:
        return None
    value_at = head[header_at].index("VALUE")
    dtypes: DTypeMap = {i: "string" for i in range(len(head[header_at]))}
    dtypes[value_at] = "float"
    numbers, unread = workbook.reader.load_sheet(0, header_row=None, dtypes=dtypes).to_arrow_with_errors()
    sheet = pl.from_arrow(numbers)
    assert isinstance(sheet, pl.DataFrame)
    texts: dict[int, str] = {}
    for error in unread.errors if unread is not None else []:
        row, column = error.position
        reported = _reported_text(error.detail)
        if column != value_at or reported is None:
            return None
        texts[row] = reported
    value = sheet.columns[value_at] if value_at < sheet.width else None
    if value is None or any(dtype != pl.String for name, dtype in sheet.schema.items() if name != value):
        return None
    above = [
        [((texts.get(i) if c == value else cell) or "").strip() for c, cell in zip(sheet.columns, row, strict=True)]
        for i, row in enumerate(sheet.head(header_at + 1).rows())
    ]
    if [_trimmed(row) for row in above] != [_trimmed(row) for row in head[: header_at + 1]]:
        return None
    text = pl.int_range(pl.len()).replace_strict(
        pl.Series(list(texts), dtype=pl.Int64), pl.Series(list(texts.values()), dtype=pl.String), default=None
    )
    with_text = sheet.with_columns(pl.col(value).alias("_number"), text.alias(value))
    return above, _named_body(with_text, header_at)


def _trimmed(row: list[str]) -> list[str]:
    """A row without its trailing empty cells (the sheet's XML leaves them out)."""
    while row and not row[-1]:
        row = row[:-1]
    return row


#: fastexcel's report of a text cell it could not read as a number: `Expected float but got 'String("<5")'`, the
#: text as Rust writes a string for debugging.
_TEXT_REPORT = re.compile(r"""Expected float but got 'String\("(.*)"\)'""", re.S)
_RUST_ESCAPE = re.compile(r"""\\(?:u\{([0-9a-f]{1,6})\}|(.))""", re.S)
_RUST_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _reported_text(detail: str) -> str | None:
    """The text of a cell fastexcel reports it could not read as a number; None for any other report."""
    found = _TEXT_REPORT.fullmatch(detail)
    if found is None:
        return None
    unknown = False

    def unescaped(escape: re.Match[str]) -> str:
        nonlocal unknown
        if escape[1] is not None:
            return chr(int(escape[1], 16))
        if escape[2] not in _RUST_ESCAPES:
            unknown = True
            return ""
        return _RUST_ESCAPES[escape[2]]

    text = _RUST_ESCAPE.sub(unescaped, found[1])
    return None if unknown or not text else text


def _body(workbook: Workbook, sheet: pl.DataFrame, header_at: int) -> pl.DataFrame:
    """The rows below the header: every cell as text, and VALUE also as the number the cell holds.

    Numbers are read a second time because a column read as text keeps only nine decimals of a number, and
    one read as numbers turns text cells ("<5") into nulls: the text read supplies those.
    """
    numbers = workbook.reader.load_sheet(
        0, header_row=header_at, dtypes={"VALUE": "float"}, use_columns=["VALUE"]
    ).to_polars()
    return _named_body(sheet, header_at).with_columns(numbers["VALUE"].alias("_number"))


def _named_body(sheet: pl.DataFrame, header_at: int) -> pl.DataFrame:
    """The rows below the header, each column the header names under its name (and `_number` when there is one)."""
    header = [(c or "").strip() for c in sheet.row(header_at)]
    named = [pl.col(sheet.columns[i]).alias(c) for i, c in enumerate(header) if c and sheet.columns[i] != "_number"]
    return sheet.slice(header_at + 1).select(*named, *(["_number"] if "_number" in sheet.columns else []))


def _release_date(rows: list[list[str]], name: str) -> dt.datetime | None | Problem:
    """The release date written above the header (dd/mm/yyyy, or a date cell), or None when there is none."""
    for row_no, row in enumerate(rows, start=1):
        for cell in row:
            found = RELEASE_DATE.match(cell) or re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00:00)?$", cell)
            if not found:
                continue
            day, month, year = found.groups() if found.re is RELEASE_DATE else reversed(found.groups())
            try:
                return dt.datetime(int(year), int(month), int(day), tzinfo=dt.UTC)
            except ValueError:
                return Problem(
                    "bad_date",
                    f"{name}: row {row_no}: release date {cell!r} is not a date (day/month/year)",
                    cell,
                    row_no,
                )
    return None


def _title(rows: list[list[str]]) -> str | None:
    return (rows[0][0] or None) if rows and rows[0] else None


def _publisher_rows(rows: pl.DataFrame, header_at: int, name: str) -> tuple[pl.DataFrame, list[Problem], list[Problem]]:
    """The publisher rows, the problems that refuse the file and the rows left out with their reason."""
    # Excel row numbers: the header is row header_at + 1, the first data row the one after it.
    rows = rows.with_row_index("_line_no", offset=header_at + 2).with_columns(pl.col("_line_no").cast(pl.Int64))
    rows = rows.filter(pl.any_horizontal(pl.all().exclude("_line_no", "_number").is_not_null()))
    # The evidence is the row as published; a number cell as the number it holds (the text read keeps 9 decimals).
    raw_cells = [
        (pl.coalesce(pl.col("_number").cast(pl.String), pl.col(c)) if c == "VALUE" else pl.col(c)).fill_null("")
        for c in rows.columns
        if c not in ("_line_no", "_number")
    ]
    rows = rows.with_columns(_raw=pl.concat_str(raw_cells, separator=","))
    problems: list[Problem] = []
    left_out: list[Problem] = []

    def refuse(bad: pl.DataFrame, check: str, describe: Callable[[dict], str]) -> None:
        for row in bad.head(MAX_PROBLEMS_PER_CHECK).iter_rows(named=True):
            problems.append(
                Problem(check, f"{name}: row {row['_line_no']}: {describe(row)}", row["_raw"], row["_line_no"])
            )
        if bad.height > MAX_PROBLEMS_PER_CHECK:
            problems.append(Problem(check, f"{name}: {bad.height - MAX_PROBLEMS_PER_CHECK} more rows fail {check}", ""))

    # Geography: an ISO code, a portal area code mapped, or one left out with its reason.
    codes = {c: area_code(c) for c in rows["Iso3_code"].drop_nulls().str.strip_chars().unique().to_list()}
    rows = rows.with_columns(_code=pl.col("Iso3_code").str.strip_chars()).with_columns(
        geo=pl.col("_code").replace_strict({c: g for c, (g, _) in codes.items()}, default=None, return_dtype=pl.String),
        _left_out=pl.col("_code").is_in([c for c, (_, why) in codes.items() if why]),
    )
    refuse(
        rows.filter(pl.col("geo").is_null() & ~pl.col("_left_out")),
        "unknown_geo",
        lambda r: (
            f"Iso3_code {r['Iso3_code']!r} is neither an ISO 3166-1 alpha-3 code nor one of the portal's area codes "
            "this reader knows; add it to AREA_CODES in octracker/extract/publishers/unodc_xlsx.py with what it "
            "names"
        ),
    )
    for row in rows.filter(pl.col("_left_out")).iter_rows(named=True):
        left_out.append(
            Problem(
                "unmapped_geo",
                f"{name}: row {row['_line_no']}: {row['_code']} left out: {codes[row['_code']][1]}",
                row["_raw"],
                row["_line_no"],
            )
        )
    rows = rows.filter(~pl.col("_left_out"))

    # Native id from the labels.
    empty = rows.filter(
        pl.any_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in ID_COLUMNS)
    )
    refuse(
        empty,
        "missing_value",
        lambda r: (
            f"{', '.join(c for c in ID_COLUMNS if not (r[c] or '').strip())} is empty; every row needs "
            f"{', '.join(ID_COLUMNS)} to name its series"
        ),
    )
    labels = {label: label_code(label) for c in ID_COLUMNS for label in rows[c].drop_nulls().unique().to_list()}
    rows = rows.with_columns(
        native_id=pl.concat_str(
            [pl.lit(PROVIDER), *(pl.col(c).replace_strict(labels, default="") for c in ID_COLUMNS)], separator="."
        )
    )

    # Year.
    rows = rows.with_columns(
        year=pl.col("Year").str.strip_chars().str.replace(r"\.0$", "").cast(pl.Int32, strict=False)
    )
    bad_years = rows.filter(pl.col("year").is_null() | ~pl.col("year").is_between(1900, 2100))
    refuse(bad_years, "bad_period", lambda r: f"Year {r['Year']!r} is not a year")

    # Values: a number cell as it is, a text cell through parse_value.
    texts = rows.filter(pl.col("_number").is_null())["VALUE"].drop_nulls().unique().to_list()
    parsed: dict[str, tuple[float | None, str]] = {}
    for text in texts:
        try:
            parsed[text] = parse_value(text)
        except ValueError as exc:
            for row in rows.filter(pl.col("VALUE") == text).head(MAX_PROBLEMS_PER_CHECK).iter_rows(named=True):
                problems.append(
                    Problem("bad_number", f"{name}: row {row['_line_no']}: VALUE {exc}", row["_raw"], row["_line_no"])
                )
    rows = rows.with_columns(
        value=pl.coalesce(
            pl.col("_number"),
            pl.col("VALUE").replace_strict(
                {t: v for t, (v, _) in parsed.items()}, default=None, return_dtype=pl.Float64
            ),
        ),
        qualifier=pl.when(pl.col("_number").is_not_null())
        .then(pl.lit("exact"))
        .otherwise(
            pl.col("VALUE").replace_strict(
                {t: q for t, (_, q) in parsed.items()}, default="exact", return_dtype=pl.String
            )
        ),
    )

    # One value per series, area and year.
    rows = rows.with_columns(_first=pl.col("_line_no").min().over("native_id", "geo", "year"))
    refuse(
        rows.filter(pl.col("_line_no") > pl.col("_first")),
        "duplicate_key",
        lambda r: f"{r['native_id']} {r['geo']} {r['year']} is already at row {r['_first']}",
    )
    if problems:
        return empty_publisher_rows(), problems, left_out

    # Save outputs.
    frame = rows.select(
        "native_id",
        "geo",
        period=pl.col("year").cast(pl.String),
        period_start=pl.date(pl.col("year"), 1, 1),
        period_end=pl.date(pl.col("year"), 12, 31),
        year="year",
        value="value",
        unit=pl.col("Unit of measurement"),
        qualifier="qualifier",
        flags=pl.lit(None, pl.String),
        _line_no="_line_no",
        _raw="_raw",
    )
    return frame.cast(PUBLISHER_SCHEMA).select(list(PUBLISHER_SCHEMA)), problems, left_out

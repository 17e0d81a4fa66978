"""SDMX-CSV 1.0 and 2.0 downloads (Eurostat's `format=SDMX-CSV`) as publisher rows.

1.0 starts with `DATAFLOW` (`ESTAT:SDG_04_20(1.0)`), 2.0 with `STRUCTURE`, `STRUCTURE_ID` and optionally
`ACTION` (rows with action `D` delete an observation and are not read). The dimension columns are those
before `TIME_PERIOD`; `OBS_VALUE`, `OBS_FLAG`, `CONF_STATUS` and `LAST UPDATE` (`dd/mm/yy HH:MM:SS`) follow.

A dimension cell may be a code (`A`, `Y25-34`), code and label (`A:Annual`) or a label only (`Annual`).
A code is kept in lower case; a label only becomes a stable lower-case code by dropping accents and writing
every run of other characters as `_` (`Tertiary education (levels 5-8)` → `tertiary_education_levels_5_8`),
so a labelled download gives other native ids than the same download with codes, but always the same ones.
A geography label is turned into its ISO code (`Belgium` → `BE`), Eurostat's aggregates into their codes
(`European Union - 27 countries (from 2020)` → `EU27_2020`); a label that is neither is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from octracker.countries import country_code
from octracker.extract.publishers.codes import (
    CONFIDENTIAL_STATUSES,
    EUROSTAT_AGGREGATE_LABELS,
    dataset_from_name,
    eurostat_geo,
    label_code,
    native_id,
    observation_flags,
)
from octracker.extract.publishers.periods import parse_publisher_period
from octracker.extract.publishers.table import (
    PUBLISHER_SCHEMA,
    ImpossibleNumber,
    PublisherTable,
    empty_publisher_rows,
    published_float,
)
from octracker.extracts import Problem

#: The header is looked for in the first bytes of the file.
_HEAD_BYTES = 1 << 16
STRUCTURE_COLUMNS = frozenset({"DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "LAST UPDATE"})
GEO_COLUMNS = ("geo", "ref_area", "reporter")
UNIT_COLUMNS = ("unit", "unit_measure")
#: Eurostat's observation flags as a labelled download spells them.
FLAG_LABELS: dict[str, str] = {
    "break_in_time_series": "b",
    "provisional": "p",
    "estimated": "e",
    "low_reliability": "u",
    "definition_differs_see_metadata": "d",
    "definition_differs": "d",
    "confidential": "c",
    "not_available": "",
    "forecast": "f",
}
#: An SDMX code: no spaces, no lower case (Eurostat's codes are upper case).
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_.\-]*")
_STRUCTURE_ID = re.compile(r"(?P<agency>[^:]+):(?P<id>[^(:]+)(?:\((?P<version>[^)]*)\))?")
LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
#: At most this many refused rows are described; the file is refused as soon as there is one.
MAX_PROBLEMS = 20


def looks_like(content: bytes) -> bool:
    """True when the first line is an SDMX-CSV header (used to detect the kind of a file given without one)."""
    first = content[:4096].decode("utf-8-sig", "replace").splitlines()[:1]
    if not first:
        return False
    header = {cell.split(":")[0].strip().upper() for cell in first[0].split(",")}
    return bool(header & {"DATAFLOW", "STRUCTURE"}) and {"TIME_PERIOD", "OBS_VALUE"} <= header


def read(content: bytes, *, name: str) -> PublisherTable:
    """The download's observations as publisher rows; problems name the row and what was wrong."""
    # A header without quotes or stray carriage returns is read from the first line alone: the whole file is only
    # decoded (and copied for the csv module) when it is read row by row.
    first, newline, _ = content[:_HEAD_BYTES].partition(b"\n")
    text: str | None = None
    if newline and b'"' not in first and b"\r" not in first.removesuffix(b"\r"):
        text_head = first.decode("utf-8-sig", "replace").removesuffix("\r")
        header_cells = next(csv.reader([text_head]), None)
    else:
        text = text_head = content.decode("utf-8-sig", "replace")
        header_cells = next(csv.reader(io.StringIO(text)), None)
    if not header_cells:
        return _refused(name, "sdmx_csv", "the file is empty; an SDMX-CSV download starts with a header row", "")
    header = [_column_id(cell) for cell in header_cells]
    missing = {"TIME_PERIOD", "OBS_VALUE"} - {h.upper() for h in header}
    if missing or not {"DATAFLOW", "STRUCTURE_ID"} & {h.upper() for h in header}:
        return _refused(
            name,
            "sdmx_csv",
            "not SDMX-CSV: the header needs DATAFLOW (1.0) or STRUCTURE_ID (2.0), "
            f"TIME_PERIOD and OBS_VALUE; it reads {','.join(header_cells)}",
            text_head.splitlines()[0],
        )
    upper = [h.upper() for h in header]
    time_at = upper.index("TIME_PERIOD")
    dims = [i for i in range(time_at) if upper[i] not in STRUCTURE_COLUMNS]
    geo_at = next((i for i in dims if header[i].lower() in GEO_COLUMNS), None)
    if geo_at is None:
        return _refused(
            name,
            "sdmx_csv",
            f"no geography column (one of {', '.join(GEO_COLUMNS)}) among the "
            f"dimensions {', '.join(header[i] for i in dims)}",
            text_head.splitlines()[0],
        )
    unit_at = next((i for i in dims if header[i].lower() in UNIT_COLUMNS), None)
    at: dict[str, int] = {
        column: upper.index(column)
        for column in ("DATAFLOW", "STRUCTURE_ID", "ACTION", "LAST UPDATE", "OBS_VALUE", "OBS_FLAG", "CONF_STATUS")
        if column in upper
    }
    layout = _Layout(header, at, geo_at, time_at, unit_at, kept=[i for i in dims if i != geo_at])
    try:
        return _read_columns(content, layout)
    except _RowByRow:
        pass  # a cell or row that is a problem, or a file with quoted cells: read row by row

    text = content.decode("utf-8-sig", "replace") if text is None else text
    lines = text.splitlines()
    records = csv.reader(io.StringIO(text))
    next(records)  # the header, read above
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    provider = dataset = None
    updated: dt.datetime | None = None
    one_line_each, ended = _lines_numbered_alike(content), records.line_num
    for record in records:
        line_no = records.line_num
        raw = lines[line_no - 1] if line_no - 1 < len(lines) else ",".join(record)
        one_line_each = one_line_each and line_no == ended + 1 and raw.count('"') % 2 == 0
        ended = line_no
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(
                Problem("sdmx_csv", f"{len(record)} cells where the header has {len(header)}", raw, line_no)
            )
        elif "ACTION" not in at or record[at["ACTION"]].strip().upper()[:1] != "D":
            try:
                row, structure, stamp = _row(record, layout, line_no, raw)
            except ValueError as exc:
                problems.append(Problem("sdmx_csv", str(exc), raw, line_no))
            else:
                if provider is None:
                    provider, dataset = structure
                elif structure != (provider, dataset):
                    problems.append(
                        Problem(
                            "sdmx_csv",
                            f"row belongs to {structure[0]}:{structure[1]}, the file "
                            f"began with {provider}:{dataset}; one dataset per file",
                            raw,
                            line_no,
                        )
                    )
                updated = max(updated, stamp) if updated and stamp else (stamp or updated)
                rows.append(row)
        if len(problems) >= MAX_PROBLEMS:
            break
    frame = pl.DataFrame(rows, schema=PUBLISHER_SCHEMA) if rows else empty_publisher_rows()
    return PublisherTable(
        provider or "estat",
        dataset or dataset_from_name(name),
        frame,
        updated=updated,
        problems=problems,
        cites_lines=one_line_each,
    )


def _lines_numbered_alike(content: bytes) -> bool:
    """The file's lines are numbered alike by the csv module, `str.splitlines` and `table_row_texts`, which reads
    them back by number: UTF-8, no carriage return but before a newline (the csv module ends a line at `\n`
    alone, a text file also at a lone `\r`) and none of the other line breaks `str.splitlines` knows."""
    if content.count(b"\r") != content.count(b"\r\n") or any(
        mark in content for mark in (*_NOT_PLAIN[2:], *_NOT_PLAIN_UTF8)
    ):
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class _Layout:
    """Where the header puts what a row is read from: the columns by their id (`at`), the place, time and unit, and
    the dimensions that name the series (`kept`)."""

    header: list[str]
    at: dict[str, int]
    geo_at: int
    time_at: int
    unit_at: int | None
    kept: list[int]


def _row(
    record: list[str], layout: _Layout, line_no: int, raw: str
) -> tuple[dict[str, Any], tuple[str, str], dt.datetime | None]:
    header, at, time_at, unit_at = layout.header, layout.at, layout.time_at, layout.unit_at
    structure = _structure(record[at["STRUCTURE_ID"] if "STRUCTURE_ID" in at else at["DATAFLOW"]])
    period = parse_publisher_period(_code_part(record[time_at]))
    value_text = record[at["OBS_VALUE"]].strip()
    value = _value(value_text)
    flags = _flags(*(record[at[name]] if name in at else "" for name in ("OBS_FLAG", "CONF_STATUS")))
    return (
        {
            "native_id": native_id(*structure, [_dimension_code(record[i], header[i]) for i in layout.kept]),
            "geo": _geo(record[layout.geo_at]),
            "period": period.code,
            "period_start": period.start,
            "period_end": period.end,
            "year": period.year,
            "value": value,
            "unit": _unit(record[unit_at]) if unit_at is not None else None,
            "qualifier": "exact",
            "flags": flags,
            "_line_no": line_no,
            "_raw": raw,
        },
        structure,
        _last_update(record[at["LAST UPDATE"]]) if "LAST UPDATE" in at else None,
    )


class _RowByRow(Exception):
    """The file holds a cell or row the column-wise reading does not take: it is read row by row instead."""


#: Bytes that make a line more than the cells between its commas, or that `str.splitlines` (which numbers the lines
#: of the row-by-row reading) breaks a line at: a quote, NUL, the line breaks Python knows besides `\n` (and `\r`,
#: allowed before a `\n`) and the controls Python counts as white space and Polars does not.
_NOT_PLAIN = (b'"', b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
_NOT_PLAIN_UTF8 = ("\x85".encode(), "\u2028".encode(), "\u2029".encode())
#: A number that `float` and Polars read to the same bits (checked): digits, a point, an exponent, no spaces.
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_BOM = "\ufeff".encode()


def _read_columns(content: bytes, layout: _Layout) -> PublisherTable:
    """The rows of a plain file read a column at a time: the rows `_row` gives, each distinct cell worked out once
    by the same functions and the rest done by Polars. Plain: UTF-8, every record one line and every cell the text
    between two commas. Raises `_RowByRow` for a file that is not plain and on a cell or row that is a problem,
    so that the row-by-row reading describes it."""
    header, at, time_at, unit_at = layout.header, layout.at, layout.time_at, layout.unit_at
    carriage_returns = b"\r" in content  # looked for before counted: most files have none (a 70 MB count: 0.05 s)
    if (
        any(mark in content for mark in _NOT_PLAIN)
        or (not content.isascii() and any(mark in content for mark in _NOT_PLAIN_UTF8))
        or (carriage_returns and content.count(b"\r") != content.count(b"\r\n"))
    ):
        raise _RowByRow
    body = content.removeprefix(_BOM)
    try:  # one line a row, as the text between newlines, and the same lines cut at their commas by Polars' reader
        lines = pl.read_csv(
            body, has_header=False, separator="\x00", quote_char=None, infer_schema=False, new_columns=["_raw"]
        ).to_series()
        cut = pl.read_csv(
            body,
            has_header=False,
            quote_char=None,
            infer_schema=False,
            empty_string_is_null=False,
            new_columns=[f"_{i}" for i in range(len(header))],
        )
    except pl.exceptions.PolarsError:  # not UTF-8, or a line of more cells than the header (which it reads first)
        raise _RowByRow from None
    if cut.height != lines.len():
        raise _RowByRow
    lines = lines.str.strip_suffix("\r") if carriage_returns else lines
    numbered = pl.DataFrame({"_raw": lines.fill_null("")}).with_row_index("_line_no", offset=1)
    # The header is not a row, nor is a row of empty cells (skipped). A row is blank only if its first cell is: when
    # no first cell is, the rows are every line after the header, and no line is searched for a blank one.
    firsts = _distinct(cut.get_column("_0").slice(1))
    if firsts.str.contains(r"^\s*$").any():
        rows = (numbered.get_column("_line_no") > 1) & ~numbered.get_column("_raw").str.contains(r"^[,\s]*$")
        numbered, cut = numbered.filter(rows), cut.filter(rows)
    else:
        numbered, cut = numbered.slice(1), cut.slice(1)
    # The reader fills a line of fewer cells than the header with empty ones: its commas are counted. No line holds
    # more (the reader refuses it), so as many commas in the file as the header's on every line is every row's count
    # right, found in one pass over the bytes; else each row's are counted.
    width = len(header)
    if numbered.height == 0 or (
        body.count(b",") != (width - 1) * lines.len()
        and not (numbered.get_column("_raw").str.count_matches(",", literal=True) == width - 1).all()
    ):
        raise _RowByRow
    if "ACTION" in at:  # rows that delete an observation are not read
        action = cut.get_column(f"_{at['ACTION']}")
        read = _each_distinct(action, lambda c: c.strip().upper()[:1] != "D", pl.Boolean())
        numbered, cut = numbered.filter(read), cut.filter(read)
        if numbered.height == 0:
            raise _RowByRow

    def column(index: int) -> pl.Series:
        return cut.get_column(f"_{index}")

    structures = _distinct_results(column(at.get("STRUCTURE_ID", at.get("DATAFLOW", 0))), _structure)[1]
    if len(set(structures)) != 1:
        raise _RowByRow  # one dataset per file: the row-by-row reading names the first row of another
    times, periods = _distinct_results(column(time_at), lambda c: parse_publisher_period(_code_part(c)))
    stamps = _distinct_results(column(at["LAST UPDATE"]), _last_update)[1] if "LAST UPDATE" in at else []
    # Each row's flags from its OBS_FLAG and CONF_STATUS: worked out once per distinct pair, or per distinct cell of
    # the one column of the two that holds more than one.
    flag_cells, conf_cells = (column(at[name]) if name in at else None for name in ("OBS_FLAG", "CONF_STATUS"))
    confs = _distinct(conf_cells) if conf_cells is not None else pl.Series([""])
    if conf_cells is not None and flag_cells is not None and confs.len() > 1:
        pairs = pl.select(pl.concat_str([flag_cells, conf_cells], separator="\n")).to_series()
        flags = _each_distinct(pairs, lambda pair: _flags(*pair.split("\n")))
    elif conf_cells is not None and confs.len() > 1:
        flags = _each_distinct(conf_cells, lambda conf: _flags("", conf))
    elif flag_cells is not None:
        flags = _each_distinct(flag_cells, functools.partial(_flags, conf_cell=confs[0]))
    else:
        flags = pl.repeat(_flags("", confs[0]), numbered.height, dtype=pl.String(), eager=True)

    # Each row's period as its place among the distinct cells, looked up once; its fields are gathered from there.
    period_at = column(time_at).replace_strict(times, pl.int_range(times.len(), dtype=pl.UInt32(), eager=True))

    def per_period(field: str, dtype: pl.DataType) -> pl.Series:
        return pl.Series([getattr(p, field) for p in periods], dtype=dtype).gather(period_at)

    provider, dataset = structures[0]
    frame = pl.DataFrame(
        {
            "native_id": _native_ids(
                native_id(provider, dataset, []), [(column(i), header[i]) for i in layout.kept], numbered.height
            ),
            "geo": _each_distinct(column(layout.geo_at), _geo),
            "period": per_period("code", pl.String()),
            "period_start": per_period("start", pl.Date()),
            "period_end": per_period("end", pl.Date()),
            "year": per_period("year", pl.Int32()),
            "value": _values(column(at["OBS_VALUE"])),
            "unit": _each_distinct(column(unit_at), _unit)
            if unit_at is not None
            else pl.repeat(None, numbered.height, dtype=pl.String(), eager=True),
            "qualifier": pl.repeat("exact", numbered.height, eager=True),
            "flags": flags,
            "_line_no": numbered.get_column("_line_no").cast(pl.Int64()),
            "_raw": numbered.get_column("_raw"),
        },
        schema=PUBLISHER_SCHEMA,
    )
    updated = max((stamp for stamp in stamps if stamp is not None), default=None)
    # A plain file is UTF-8 (Polars refuses other bytes), one record a line, every `\r` before a `\n`.
    return PublisherTable(provider, dataset, frame, updated=updated, cites_lines=True)


def _series_code(cell: str, column: str) -> str:
    """A dimension's cell as a part of the native id (see `native_id`)."""
    return _dimension_code(cell, column).strip().lower()


def _native_ids(prefix: str, columns: list[tuple[pl.Series, str]], height: int) -> pl.Series:
    """Each of the `height` rows' native id: `prefix` and the series code of each dimension column (its cells and
    header id), joined by points. A dimension of one code is written into the text around the others; when one
    dimension alone has many (a dataset's indicator, as a rule), each of its distinct cells is given its whole id."""
    texts: list[str] = [prefix]  # the text before each varying column, and after the last
    varying: list[tuple[pl.Series, pl.Series, list[str]]] = []
    for cells, name in columns:
        distinct, codes = _distinct_results(cells, functools.partial(_series_code, column=name))
        if len(codes) == 1:
            texts[-1] = f"{texts[-1]}.{codes[0]}"
        else:
            varying.append((cells, distinct, codes))
            texts.append("")
    if not varying:
        return pl.repeat(texts[0], height, dtype=pl.String(), eager=True)
    if len(varying) == 1:
        (cells, distinct, codes), (before, after) = varying[0], texts
        whole = pl.Series([f"{before}.{code}{after}" for code in codes], dtype=pl.String())
        return cells.replace_strict(distinct, whole, return_dtype=pl.String())
    parts: list[pl.Expr] = []
    for n, (cells, distinct, codes) in enumerate(varying):
        parts.append(pl.lit(texts[n] + "."))
        parts.append(
            pl.lit(cells.replace_strict(distinct, pl.Series(codes, dtype=pl.String()), return_dtype=pl.String()))
        )
    parts.append(pl.lit(texts[-1]))
    return pl.select(pl.concat_str(parts)).to_series()


def _distinct(column: pl.Series) -> pl.Series:
    """The column's distinct cells. A column of one cell repeated (a dataflow, a frequency, a time of update) is
    told from its first cell at a tenth of the cost of hashing every cell."""
    one = column.len() > 0 and column.null_count() == 0 and column[0] == column[-1]
    if one and (column == column[0]).all():
        return column.head(1)
    return column.unique()


def _distinct_results(column: pl.Series, work: Callable[[str], Any]) -> tuple[pl.Series, list[Any]]:
    """The column's distinct cells and `work` of each; `_RowByRow` when it refuses one."""
    distinct = _distinct(column)
    try:
        return distinct, [work(cell) for cell in distinct]
    except ValueError:
        raise _RowByRow from None


def _each_distinct(column: pl.Series, work: Callable[[str], Any], dtype: pl.DataType = pl.String()) -> pl.Series:
    """`work` of every cell of the column, worked out once per distinct cell (a column of one cell: a column of its
    result)."""
    distinct, results = _distinct_results(column, work)
    if len(results) == 1:
        return pl.repeat(results[0], column.len(), dtype=dtype, eager=True)
    return column.replace_strict(distinct, pl.Series(results, dtype=dtype), return_dtype=dtype)


def _values(cells: pl.Series) -> pl.Series:
    """OBS_VALUE as `_value` reads it: plain numbers by Polars (a number a float cannot hold is a problem), every
    other cell (empty, `:`, padded with spaces, ...) once per distinct cell by `_value`."""
    parsed = cells.cast(pl.Float64, strict=False)
    by_polars = cells.str.contains(_PLAIN_NUMBER) & parsed.is_not_null()
    # A number read as infinite, or as 0 from non-zero digits (looked for among the zeros only), is a problem.
    zeros = by_polars & (parsed == 0)
    if (by_polars & parsed.is_infinite()).any() or (
        zeros.any() and cells.filter(zeros).str.contains(r"^[^eE]*[1-9]").any()
    ):
        raise _RowByRow
    others = cells.filter(~by_polars)
    if others.is_empty():
        return parsed
    distinct, results = _distinct_results(others, lambda c: _value(c.strip()))
    read = cells.replace_strict(distinct, pl.Series(results, dtype=pl.Float64), default=None, return_dtype=pl.Float64)
    return pl.select(pl.when(by_polars).then(parsed).otherwise(read)).to_series()


def _flags(flag_cell: str, conf_cell: str) -> str | None:
    """A row's flags: OBS_FLAG's and `c` when CONF_STATUS withholds the value."""
    published_flag = _flag(flag_cell)
    conf = conf_cell.strip()
    withheld = _code_part(conf).upper() in CONFIDENTIAL_STATUSES or label_code(conf) == "confidential"
    return observation_flags(published_flag, "c" if withheld else None)


def _unit(cell: str) -> str | None:
    unit = cell.strip()
    return (_code_part(unit) if unit and _has_code(unit) else unit) or None


def _column_id(cell: str) -> str:
    """A header cell's id: `freq: Time frequency` (codes and labels) → `freq`."""
    cell = cell.strip()
    return cell if cell.upper() in STRUCTURE_COLUMNS else cell.split(":")[0].strip()


@functools.lru_cache(maxsize=64)
def _structure(text: str) -> tuple[str, str]:
    found = _STRUCTURE_ID.match(text.strip())
    if not found:
        raise ValueError(f"dataflow {text!r} is not AGENCY:ID(VERSION)")
    agency = found["agency"].strip()
    provider = "estat" if agency.upper() == "ESTAT" else label_code(agency)
    return provider, found["id"].strip().lower()


def _has_code(cell: str) -> bool:
    return ":" in cell and bool(_CODE.fullmatch(cell.split(":")[0].strip()))


def _code_part(cell: str) -> str:
    """`A:Annual` → `A`; any other cell as it is (stripped)."""
    cell = cell.strip()
    return cell.split(":")[0].strip() if _has_code(cell) else cell


@functools.lru_cache(maxsize=4096)  # cells repeat their few codes over every row
def _dimension_code(cell: str, column: str) -> str:
    cell = cell.strip()
    if not cell:
        raise ValueError(f"dimension {column} is empty")
    code = _code_part(cell)
    return code.lower() if _CODE.fullmatch(code) else label_code(code)


@functools.lru_cache(maxsize=4096)
def _geo(cell: str) -> str:
    cell = cell.strip()
    code = _code_part(cell)
    if _CODE.fullmatch(code):
        return eurostat_geo(code)
    found = EUROSTAT_AGGREGATE_LABELS.get(label_code(code)) or country_code(code)
    if found is None:
        raise ValueError(
            f"geography {cell!r} is neither a code nor a country or aggregate name octracker knows; "
            "download the dataset with codes (or codes and labels), or add the name to "
            "COUNTRY_ALIASES in octracker.countries"
        )
    return found


def _value(text: str) -> float | None:
    if text in ("", ":", "NaN", "nan"):
        return None
    try:
        return published_float(text)
    except ImpossibleNumber as exc:
        raise ValueError(f"OBS_VALUE {exc}") from None
    except ValueError:
        raise ValueError(f"OBS_VALUE {text!r} is not a number") from None


@functools.lru_cache(maxsize=256)
def _flag(cell: str) -> str | None:
    cell = cell.strip()
    if not cell:
        return None
    code = _code_part(cell)
    if len(code) <= 3 and " " not in code:
        return code
    if label_code(code) in FLAG_LABELS:
        return FLAG_LABELS[label_code(code)] or None
    raise ValueError(f"OBS_FLAG {cell!r} is not a flag code nor a flag label octracker knows; download with codes")


def vintage(content: bytes, *, name: str) -> dt.datetime | None:
    """The latest `LAST UPDATE` of the download, reading that one column: what `read(...).updated` says, without
    reading the rows (a feed checks it before deciding to read the file). None when it cannot be told here."""
    records = csv.reader(io.StringIO(content.decode("utf-8-sig", "replace")))
    header = [_column_id(cell).upper() for cell in next(records, [])]
    if "LAST UPDATE" not in header:
        return None
    at, width = header.index("LAST UPDATE"), len(header)
    actions = header.index("ACTION") if "ACTION" in header else None
    stamps = {
        r[at]
        for r in records
        if len(r) == width and (actions is None or r[actions].strip().upper()[:1] != "D") and r[at].strip()
    }
    try:
        parsed = [_last_update(text) for text in stamps]
    except ValueError:
        return None
    return max((p for p in parsed if p is not None), default=None)


@functools.lru_cache(maxsize=64)  # one time of update, written on every row
def _last_update(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    for pattern in ("%d/%m/%y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            stamp = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        # Eurostat writes the time in Luxembourg.
        return stamp.replace(tzinfo=LUXEMBOURG).astimezone(dt.UTC)
    raise ValueError(f"the time of last update {text!r} is not dd/mm/yy HH:MM:SS")


def _refused(name: str, check: str, message: str, payload: str) -> PublisherTable:
    return PublisherTable(
        "estat", dataset_from_name(name), empty_publisher_rows(), problems=[Problem(check, message, payload)]
    )

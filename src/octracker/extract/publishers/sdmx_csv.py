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
    text = content.decode("utf-8-sig", "replace")
    lines = text.splitlines()
    records = csv.reader(io.StringIO(text))
    header_cells = next(records, None)
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
            lines[0],
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
            lines[0],
        )
    unit_at = next((i for i in dims if header[i].lower() in UNIT_COLUMNS), None)
    at: dict[str, int] = {
        column: upper.index(column)
        for column in ("DATAFLOW", "STRUCTURE_ID", "ACTION", "LAST UPDATE", "OBS_VALUE", "OBS_FLAG", "CONF_STATUS")
        if column in upper
    }
    kept = [i for i in dims if i != geo_at]

    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    provider = dataset = None
    updated: dt.datetime | None = None
    for record in records:
        line_no = records.line_num
        raw = lines[line_no - 1] if line_no - 1 < len(lines) else ",".join(record)
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(
                Problem("sdmx_csv", f"{len(record)} cells where the header has {len(header)}", raw, line_no)
            )
        elif "ACTION" not in at or record[at["ACTION"]].strip().upper()[:1] != "D":
            try:
                row, structure, stamp = _row(record, header, at, geo_at, time_at, unit_at, kept, line_no, raw)
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
        provider or "estat", dataset or dataset_from_name(name), frame, updated=updated, problems=problems
    )


def _row(
    record: list[str],
    header: list[str],
    at: dict[str, int],
    geo_at: int,
    time_at: int,
    unit_at: int | None,
    kept: list[int],
    line_no: int,
    raw: str,
) -> tuple[dict[str, Any], tuple[str, str], dt.datetime | None]:
    structure = _structure(record[at["STRUCTURE_ID"] if "STRUCTURE_ID" in at else at["DATAFLOW"]])
    period = parse_publisher_period(_code_part(record[time_at]))
    value_text = record[at["OBS_VALUE"]].strip()
    value = _value(value_text)
    published_flag = _flag(record[at["OBS_FLAG"]]) if "OBS_FLAG" in at else None
    conf = record[at["CONF_STATUS"]].strip() if "CONF_STATUS" in at else ""
    conf_code = _code_part(conf).upper()
    confidential = "c" if conf_code in CONFIDENTIAL_STATUSES or label_code(conf) == "confidential" else None
    unit = record[unit_at].strip() if unit_at is not None else None
    return (
        {
            "native_id": native_id(structure[0], structure[1], [_dimension_code(record[i], header[i]) for i in kept]),
            "geo": _geo(record[geo_at]),
            "period": period.code,
            "period_start": period.start,
            "period_end": period.end,
            "year": period.year,
            "value": value,
            "unit": (_code_part(unit) if unit and _has_code(unit) else unit) or None,
            "qualifier": "exact",
            "flags": observation_flags(published_flag, confidential),
            "_line_no": line_no,
            "_raw": raw,
        },
        structure,
        _last_update(record[at["LAST UPDATE"]]) if "LAST UPDATE" in at else None,
    )


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

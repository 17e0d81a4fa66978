"""Hostile inputs built in memory: a zip bomb, a real workbook, a Parquet table, and the good long table."""

from __future__ import annotations

import functools
import io
import struct
import zipfile

import openpyxl
import polars as pl
from hostile_fixtures import CASES

GOOD_CSV = (CASES / "tables" / "long_good.csv").read_bytes()
GOOD_ROWS = 9  # data rows of long_good.csv (one field spans two lines)


@functools.cache
def zip_bomb(declared_size: int | None = None) -> bytes:
    """A real workbook whose sheet inflates to over 256 MiB (a quarter of a megabyte on disk).

    With `declared_size`, the archive lies: its headers say the sheet holds only that many bytes.
    """
    sheet_name = "xl/worksheets/sheet1.xml"
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook_bytes())) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
    ):
        for item in source.infolist():
            if item.filename != sheet_name:
                archive.writestr(item.filename, source.read(item))
                continue
            with archive.open(sheet_name, "w") as sheet:
                sheet.write(source.read(item))
                zeros = bytes(1 << 20)
                for _ in range(256):
                    sheet.write(zeros)
    data = bytearray(buffer.getvalue())
    if declared_size is not None:
        # The uncompressed size in the sheet's local header (offset 22) and its central directory entry (24).
        name = sheet_name.encode()
        struct.pack_into("<I", data, data.rindex(b"PK\x03\x04", 0, data.index(name)) + 22, declared_size)
        struct.pack_into("<I", data, data.rindex(b"PK\x01\x02", 0, data.rindex(name)) + 24, declared_size)
    return bytes(data)


@functools.cache
def workbook_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Country", "Cocaine trade"])
    workbook.active.append(["Belgium", 8.0])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@functools.cache
def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(
        {"indicator": ["shootings"], "geo": ["BE-BRU"], "period": ["2019"], "value": [50.0], "unit": ["count"]}
    ).write_parquet(buffer)
    return buffer.getvalue()


#: Countries of the generated long table (known geographies, so every row validates).
GEOS = (
    "BE",
    "NL",
    "FR",
    "DE",
    "ES",
    "IT",
    "PL",
    "PT",
    "AT",
    "SE",
    "DK",
    "FI",
    "IE",
    "LU",
    "CZ",
    "SK",
    "HU",
    "RO",
    "BG",
    "GR",
)


def write_long_parquet(path, rows: int) -> int:
    """A valid long table of `rows` daily shooting counts (one row per country and day), as Parquet."""
    days = pl.date_range(pl.date(1900, 1, 1), pl.date(2099, 12, 31), "1d", eager=True).alias("day")
    assert rows <= len(days) * len(GEOS)
    frame = (
        pl.DataFrame({"geo": GEOS})
        .join(days.to_frame(), how="cross")
        .head(rows)
        .select(
            indicator=pl.lit("shootings"),
            geo="geo",
            period=pl.col("day").dt.strftime("%Y-%m-%d") + "/" + pl.col("day").dt.strftime("%Y-%m-%d"),
            value=(pl.int_range(pl.len()) % 500).cast(pl.Float64),
            unit=pl.lit("count"),
        )
    )
    frame.write_parquet(path)
    return frame.height


@functools.cache
def formula_workbook_bytes() -> bytes:
    """A wide index workbook whose second value is a formula a script wrote and no spreadsheet computed."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["Country", "Cocaine trade"])
    workbook.active.append(["Belgium", 8.0])
    workbook.active.append(["Netherlands", "=4+4"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

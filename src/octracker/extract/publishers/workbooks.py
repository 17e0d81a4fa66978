"""Publisher workbooks (XLSX) read with fastexcel, refusing what a fast reader would otherwise read as empty.

fastexcel (calamine, in Rust) hands whole columns to Polars as Arrow: the UNODC export (26,114 rows) reads
in about 0.2 s where openpyxl's read-only mode takes 1.3 s, and the GI-TOC workbook in under 0.01 s
against 0.05 s. Like every reader of cached values, it reads a formula that Excel never computed
(a workbook written by a script) and an error cell (`#DIV/0!`) as an empty cell; since an empty cell means
"not published" to the readers, both are found in the sheet XML first and refuse the file.

`head_rows` reads only the first rows of the first sheet, unzipping and parsing no more of its XML than they
take: calamine parses a whole sheet even when asked for ten rows (0.2 to 0.4 s for the UNODC export).
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import fastexcel

from octracker.extract.table_files import MAX_ZIP_RATIO, ZIP_RATIO_FLOOR, MiB
from octracker.extracts import Problem

#: A publisher's workbook is a few MB; past this many bytes unzipped it is refused unopened.
MAX_UNZIPPED = 400 * MiB
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_CACHED = re.compile(rb"<v>[^<]+</v>")
_ERROR_CELL = re.compile(rb'<c\b[^>]*\bt="e"[^>]*>\s*(?:<f\b.*?(?:/>|</f>)\s*)?<v>([^<]*)</v>', re.S)


@dataclass(frozen=True)
class Workbook:
    """An opened workbook: fastexcel's reader and the file name problems are told against."""

    reader: fastexcel.ExcelReader
    name: str

    @property
    def sheet_names(self) -> list[str]:
        return list(self.reader.sheet_names)


def open_workbook(content: bytes, name: str) -> Workbook | Problem:
    """The workbook, or the problem that refuses it: not an XLSX, built to expand, or holding a cell whose
    value the file does not carry (a formula never computed, an error)."""
    refused = _archive_problem(content, name)
    if refused:
        return refused
    try:
        reader = fastexcel.read_excel(content)
    except Exception as exc:  # noqa: BLE001 - calamine raises several types for a damaged workbook; all refuse it
        return Problem("unreadable_file", f"{name}: not a readable XLSX workbook ({exc})", name)
    return Workbook(reader, name)


def _archive_problem(content: bytes, name: str) -> Problem | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            return _expansion_problem(zf, name) or _cell_problem(zf, name)
    except (zipfile.BadZipFile, OSError, KeyError, ElementTree.ParseError) as exc:
        return Problem("unreadable_file", f"{name}: not a readable XLSX workbook ({exc})", name)


def _expansion_problem(zf: zipfile.ZipFile, name: str) -> Problem | None:
    """A workbook built to expand (past MAX_UNZIPPED, or by more than MAX_ZIP_RATIO), told from its directory."""
    members = zf.infolist()
    unzipped = sum(m.file_size for m in members)
    zipped = max(sum(m.compress_size for m in members), 1)
    if unzipped > MAX_UNZIPPED or (unzipped > ZIP_RATIO_FLOOR and unzipped / zipped > MAX_ZIP_RATIO):
        return Problem(
            "zip_bomb",
            f"{name}: the workbook would expand to {unzipped:,} bytes from {zipped:,}; refused without opening it",
            name,
        )
    return None


def _cell_problem(zf: zipfile.ZipFile, name: str) -> Problem | None:
    """The first cell holding a formula without its computed value, or an error value, in any sheet."""
    for sheet, part in _sheet_parts(zf).items():
        xml = zf.read(part)
        if b"<f" in xml:
            for at in (m.start() for m in re.finditer(rb"<f[\s>/]", xml)):
                end = xml.find(b"</c>", at)
                if not _CACHED.search(xml, at, end if end >= 0 else len(xml)):
                    return Problem(
                        "formula_without_value",
                        (
                            f"{name}: sheet {sheet!r} cell {_cell_ref(xml, at)} holds a formula whose value was never "
                            "computed (the workbook was written by a program, not saved by a spreadsheet); open it "
                            "in a spreadsheet, let it calculate, save it and hand it in again"
                        ),
                        name,
                    )
        if b't="e"' in xml:
            found = _ERROR_CELL.search(xml)
            if found:
                return Problem(
                    "error_cell",
                    (
                        f"{name}: sheet {sheet!r} cell {_cell_ref(xml, found.end())} holds the error "
                        f"{found.group(1).decode(errors='replace')}; fix the cell in the workbook and hand it in again"
                    ),
                    name,
                )
    return None


def uncomputed_cell_problem(path: Path) -> Problem | None:
    """For readers that open a workbook with another library (openpyxl): the first formula without a computed
    value or error cell, which that library too would read as an empty cell, refuses the whole file."""
    try:
        with zipfile.ZipFile(path) as zf:
            return _cell_problem(zf, path.name)
    except (zipfile.BadZipFile, OSError, KeyError, ElementTree.ParseError) as exc:
        return Problem("unreadable_file", f"{path.name}: not a readable XLSX workbook ({exc})", path.name)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the archive member holding its cells, as the workbook's relationships say."""
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels")).iter(f"{_PKG_REL}Relationship")
    }
    parts = {}
    for sheet in ElementTree.fromstring(zf.read("xl/workbook.xml")).iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        if part in zf.namelist():
            parts[sheet.get("name", part)] = part
    return parts


def _cell_ref(xml: bytes, at: int) -> str:
    start = xml.rfind(b"<c ", 0, at)
    found = _CELL_REF.search(xml, start, at) if start >= 0 else None
    return found.group(1).decode() if found else "(unknown)"


def head_rows(content: bytes, n_rows: int) -> list[list[str | None]] | None:
    """The first `n_rows` rows of the first sheet, each cell as its text in its column (rows and cells the sheet
    skips are empty); a cell whose text depends on its number format (a number, a date) is None. None when the
    workbook cannot be read this way (or one built to expand): the caller reads it whole instead, with its checks.

    Streams the sheet's XML and the shared strings only as far as those rows need.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            parts = _sheet_parts(zf)
            if not parts or _expansion_problem(zf, "") is not None:
                return None
            cells = _head_cells(zf, next(iter(parts.values())), n_rows)
            wanted = {int(v) for row in cells for kind, v in row if kind == "s" and v is not None}
            strings = _shared_strings(zf, wanted) if wanted else {}
            return [[_cell_text(kind, v, strings) for kind, v in row] for row in cells]
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, IndexError, ElementTree.ParseError):
        return None


def _head_cells(zf: zipfile.ZipFile, part: str, n_rows: int) -> list[list[tuple[str, str | None]]]:
    """(cell type, raw value) of each cell in the first `n_rows` rows, read from the start of the sheet's XML.

    A cell sits in the column its reference names (`r="C5"`): a spreadsheet leaves empty cells out, and the
    cells after one would otherwise shift left. A cell without a reference follows the one before it.
    """
    rows: list[list[tuple[str, str | None]]] = [[] for _ in range(n_rows)]
    at = -1
    with zf.open(part) as stream:
        for _, element in ElementTree.iterparse(stream, events=("end",)):
            if element.tag != f"{_MAIN}row":
                continue
            # `r` is the row's number; a row without one follows the row before.
            at = int(element.get("r") or at + 2) - 1
            if at >= n_rows or at < 0:
                break
            for cell in element.iter(f"{_MAIN}c"):
                column = _column_index(cell.get("r"))
                if column is not None:
                    if column < len(rows[at]):
                        raise ValueError(f"cell {cell.get('r')} stands after a cell to its right")
                    rows[at] += [("n", None)] * (column - len(rows[at]))
                kind = cell.get("t", "n")
                value: str | None
                if kind == "inlineStr":
                    value = "".join(t.text or "" for t in cell.iter(f"{_MAIN}t"))
                else:
                    found = cell.find(f"{_MAIN}v")
                    value = found.text if found is not None else None
                rows[at].append((kind, value))
            element.clear()
    return rows


def _column_index(reference: str | None) -> int | None:
    """The 0-based column of a cell reference (`C5` -> 2, `AA1` -> 26); None without one."""
    if not reference:
        return None
    letters = reference.rstrip("0123456789")
    if not letters.isalpha() or not letters.isupper():
        raise ValueError(f"{reference!r} is not a cell reference")
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _shared_strings(zf: zipfile.ZipFile, wanted: set[int]) -> dict[int, str]:
    """The shared strings at these indexes (rich text joined, phonetic runs left out), read up to the last one."""
    strings: dict[int, str] = {}
    with zf.open("xl/sharedStrings.xml") as stream:
        items = (e for _, e in ElementTree.iterparse(stream, events=("end",)) if e.tag == f"{_MAIN}si")
        for index, item in enumerate(itertools.islice(items, max(wanted) + 1)):
            if index in wanted:
                phonetic = {id(t) for r in item.iter(f"{_MAIN}rPh") for t in r.iter(f"{_MAIN}t")}
                strings[index] = "".join(t.text or "" for t in item.iter(f"{_MAIN}t") if id(t) not in phonetic)
            item.clear()
    return strings


def _cell_text(kind: str, value: str | None, strings: dict[int, str]) -> str | None:
    if value is None:
        return ""
    if kind == "s":
        return strings[int(value)]
    if kind in ("str", "inlineStr"):
        return value
    # A number or date (its text depends on the cell's format), a boolean, an error: not read here.
    return None

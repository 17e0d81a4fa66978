"""File-level checks shared by the table readers: format by magic bytes, size, text encoding, zip bombs."""

from __future__ import annotations

import codecs
import csv
import zipfile
from pathlib import Path

from octracker.problems import Problem

MiB = 1024 * 1024
#: The first bytes of a Parquet file, and of a ZIP archive (an XLSX workbook is one): the only place they are written.
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
#: A real XLSX compresses 5-20x; far beyond this the archive is built to expand (a zip bomb).
MAX_ZIP_RATIO = 100
#: Below this many uncompressed bytes a high ratio is harmless (tiny, repetitive sheets).
ZIP_RATIO_FLOOR = 8 * MiB
_CHUNK = 4 * MiB


def is_binary_table(content: bytes) -> bool:
    """Whether the bytes start as a Parquet file or a ZIP archive (XLSX), which are never read as text."""
    return content.startswith((PARQUET_MAGIC, ZIP_MAGIC))


def sniff_format(path: Path) -> str:
    """'parquet', 'xlsx' or 'text', from the first bytes of the file, not its extension."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == PARQUET_MAGIC:
        return "parquet"
    if head == ZIP_MAGIC:
        return "xlsx"
    return "text"


def file_problem(check: str, message: str, path: Path) -> Problem:
    """A Problem about the whole file (no line number); the payload is the file name."""
    return Problem(check=check, message=message, payload=path.name)


def check_size(path: Path, max_bytes: int) -> Problem | None:
    """Refuse an empty file or one larger than `max_bytes`."""
    size = path.stat().st_size
    if size == 0:
        return file_problem("empty_file", "the file is empty (0 bytes); export the table again", path)
    if size > max_bytes:
        return file_problem(
            "too_large",
            f"the file has {size:,} bytes, more than the {max_bytes:,} allowed; split it or raise the limit",
            path,
        )
    return None


def check_text(path: Path) -> Problem | None:
    """Refuse a text file with NUL bytes or bytes that are not UTF-8, naming the line of the first one.

    Streams the file in chunks so a large file is never held as one decoded string.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes of the file before `chunk`
    newlines = 0  # newlines before `chunk`
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = newlines + chunk.count(b"\n", 0, nul) + 1
                return file_problem(
                    "binary_file",
                    f"NUL byte at line {line} (byte {offset + nul:,}): this is a binary file, not a CSV text table",
                    path,
                )
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                line = newlines + chunk.count(b"\n", 0, at) + 1
                bad = chunk[at : at + 1].hex().upper() or "end of file"
                return file_problem(
                    "not_utf8",
                    f"not UTF-8: byte 0x{bad} at line {line} (byte {offset + at:,}); "
                    "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
                    path,
                )
            if final:
                return None
            offset += len(chunk)
            newlines += chunk.count(b"\n")


def check_zip(path: Path, max_unzipped: int) -> Problem | None:
    """Refuse an archive whose members would expand past `max_unzipped` or far beyond their compressed size.

    Uses the sizes the archive declares; Python's zipfile never inflates a member past its declared size.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        return file_problem("unreadable_file", f"not a readable XLSX (zip) file: {exc}", path)
    unzipped = sum(m.file_size for m in members)
    zipped = max(sum(m.compress_size for m in members), 1)
    if unzipped > max_unzipped:
        return file_problem(
            "zip_bomb",
            f"the workbook would expand to {unzipped:,} bytes, more than the {max_unzipped:,} allowed; "
            "refused without opening it",
            path,
        )
    if unzipped > ZIP_RATIO_FLOOR and unzipped / zipped > MAX_ZIP_RATIO:
        return file_problem(
            "zip_bomb",
            f"the workbook would expand {unzipped / zipped:,.0f}x ({zipped:,} to {unzipped:,} bytes); "
            "a real spreadsheet compresses far less, so it was refused without opening it",
            path,
        )
    return None


def read_head_rows(path: Path, limit: int = 64 * 1024) -> list[list[str]]:
    """The first CSV records of a file (its first `limit` bytes), read leniently: detection only looks at the
    header, and the reader then refuses a file that is not clean UTF-8 with a better message than 'unknown'."""
    with open(path, "rb") as fh:
        head = fh.read(limit)
    text = head.decode("utf-8-sig", errors="replace").replace("\x00", "\ufffd")
    lines = text.splitlines()
    if len(head) == limit:
        lines = lines[:-1]  # the last line may be cut short
    if not lines:
        return []
    return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=csv_separator(lines[0]))]


def csv_separator(header: str) -> str:
    """',' unless the header line is clearly separated by ';' (a European-locale Excel export)."""
    return ";" if header.count(";") > header.count(",") else ","

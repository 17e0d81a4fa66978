"""Source documents: their bytes, content hash, sidecar metadata (`<file>.meta.toml`) and the raw store."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from octracker.errors import InputRefused, SpecError
from octracker.tomlfiles import load_toml

SIDECAR_SUFFIX = ".meta.toml"
#: The largest document read: a larger file is refused by its size, before a byte of it is read.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
#: Raw-store names that are never a stored file (those are named by content hash): work in progress.
PARTIAL_SUFFIX = ".partial"
NAMED_COPY_PREFIX = "octracker-"
SIDECAR_FIELDS = {
    "source_id",
    "title",
    "publisher",
    "published",
    "url",
    "kind",
    "edition",
    "previous_edition",
    "countries",
    "licence",
    "note",
    "precedence",
}


@dataclass(frozen=True)
class SourceMeta:
    """What is known about a document, from its sidecar and the pipeline spec."""

    source_id: str | None = None
    kind: str | None = None
    title: str | None = None
    publisher: str | None = None
    published_on: dt.date | None = None
    #: day / month / year / unknown: how much of the date the source states.
    published_precision: str = "unknown"
    url: str | None = None
    licence: str | None = None
    edition: int | None = None
    #: The edition an index's printed changes are relative to (default: edition − 2).
    previous_edition: int | None = None
    countries: tuple[str, ...] | None = None
    note: str | None = None
    #: Source precedence stated in a sidecar (higher wins in `series`); a pipeline spec's own wins over it.
    precedence: int | None = None

    def merged(self, overrides: dict[str, Any]) -> SourceMeta:
        """These values with the non-empty overrides applied (flags beat sidecar beat defaults)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Document:
    """A file as read once: its path, bytes, hash and metadata."""

    path: Path
    content: bytes = field(repr=False)
    sha256: str
    meta: SourceMeta

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


def parse_published(value: Any, where: str) -> tuple[dt.date | None, str]:
    """A published date as stated: YYYY-MM-DD, YYYY-MM, YYYY or 'unknown' -> (date, precision)."""
    if value is None or str(value).strip().lower() in {"", "unknown"}:
        return None, "unknown"
    if isinstance(value, dt.datetime):
        return value.date(), "day"
    if isinstance(value, dt.date):
        return value, "day"
    text = str(value).strip()
    for pattern, precision in ((r"\d{4}-\d{2}-\d{2}", "day"), (r"\d{4}-\d{2}", "month"), (r"\d{4}", "year")):
        if re.fullmatch(pattern, text):
            parts = [int(p) for p in text.split("-")] + [1, 1]
            try:
                return dt.date(parts[0], parts[1], parts[2]), precision
            except ValueError:
                break
    raise SpecError(f"{where}: published must be YYYY-MM-DD, YYYY-MM, YYYY or 'unknown', not {value!r}")


def stated_date(on: dt.date | None, precision: str | None) -> str:
    """A publication date as much as the source states it: '2025', '2025-09', '2025-09-10' or 'unknown'."""
    if on is None or precision in (None, "unknown"):
        return "unknown"
    return {"year": f"{on:%Y}", "month": f"{on:%Y-%m}"}.get(precision, on.isoformat())


def meta_from_mapping(raw: dict[str, Any], where: str) -> SourceMeta:
    """Build metadata from a sidecar or spec table, refusing unknown fields by name."""
    unknown = set(raw) - SIDECAR_FIELDS
    if unknown:
        raise SpecError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(SIDECAR_FIELDS))}"
        )
    published_on, precision = parse_published(raw.get("published"), where)
    countries = raw.get("countries")
    for name in ("edition", "previous_edition"):
        year = raw.get(name)
        if year is not None and not (isinstance(year, int) and 1990 <= year <= 2100):
            raise SpecError(f"{where}: {name} must be a year such as 2025, not {year!r}")
    precedence = raw.get("precedence")
    if precedence is not None and (not isinstance(precedence, int) or isinstance(precedence, bool)):
        raise SpecError(f"{where}: precedence must be an integer (higher wins), not {precedence!r}")
    return SourceMeta(
        source_id=raw.get("source_id"),
        kind=raw.get("kind"),
        title=raw.get("title"),
        publisher=raw.get("publisher"),
        published_on=published_on,
        published_precision=precision,
        url=raw.get("url"),
        licence=raw.get("licence"),
        edition=raw.get("edition"),
        previous_edition=raw.get("previous_edition"),
        countries=tuple(countries) if countries else None,
        note=raw.get("note"),
        precedence=precedence,
    )


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def may_have_sidecar(path: Path) -> bool:
    """False when the sidecar's name would pass the 255 bytes a file name may have: no such file can exist."""
    return len(path.name.encode()) + len(SIDECAR_SUFFIX) <= 255


def read_sidecar_mapping(path: Path) -> dict[str, Any]:
    """The raw fields of the sidecar beside a document ({} when it has none)."""
    side = sidecar_path(path)
    if not may_have_sidecar(path) or not side.exists():
        return {}
    return load_toml(side, fix="fix the sidecar or remove it")


def read_sidecar(path: Path) -> SourceMeta:
    """The metadata beside a document, or empty metadata when it has no sidecar."""
    return meta_from_mapping(read_sidecar_mapping(path), str(sidecar_path(path)))


def read_document(path: Path, meta: SourceMeta | None = None) -> Document:
    """Read a document's bytes once, hash them, and attach its metadata (sidecar unless given)."""
    try:
        refuse_oversize(path)
        content = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: document not found") from None
    return Document(path=path, content=content, sha256=sha256_hex(content), meta=meta or read_sidecar(path))


def size_problem(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> tuple[str, str] | None:
    """(check, message) when the file is empty or larger than `limit`, told from its size alone; else None."""
    size = path.stat().st_size
    if size == 0:
        return "empty_file", f"{path.name}: the file is empty (0 bytes); nothing to read"
    if size > limit:
        return "too_large", (
            f"{path.name}: the file has {size:,} bytes, more than the {limit:,} a document may "
            "have; refused without reading it (split it, or export only the rows needed)"
        )
    return None


def refuse_oversize(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> None:
    """InputRefused, before a byte is read, when the file is larger than `limit`."""
    problem = size_problem(path, limit)
    if problem is not None and problem[0] == "too_large":
        raise InputRefused(problem[1])


def text_fault(content: bytes) -> tuple[str, str] | None:
    """(check, message) when the bytes are not clean UTF-8 text, naming the line and byte at fault; else None.

    A NUL byte never occurs in text: it marks a binary (or damaged) file, whatever its name says.
    """
    nul = content.find(b"\x00")
    if nul >= 0:
        line = content.count(b"\n", 0, nul) + 1
        return "binary_file", f"NUL byte at line {line} (byte {nul:,}): this is a binary or damaged file, not text"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        return "not_utf8", (
            f"not UTF-8 text: byte 0x{content[exc.start]:02X} at line {line} (byte {exc.start:,}); "
            "save it as UTF-8 and drop it again"
        )
    return None


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def store_raw(raw_dir: Path, document: Document) -> Path:
    """Keep the exact bytes under their content hash; storing the same content twice is a no-op."""
    target = raw_dir / document.sha256[:2] / f"{document.sha256}{''.join(document.path.suffixes[-1:])}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    with open(tmp, "wb") as fh:
        fh.write(document.content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def remove_partial_raw(raw_dir: Path) -> int:
    """Remove what a writer that died left in the raw store: half-written copies and reading folders.

    Only the one writer stores raw files, so when it starts, any such leftover is from a process that died.
    Stored files are named by content hash and are never touched.
    """
    leftovers = [*raw_dir.glob(f"*/.*{PARTIAL_SUFFIX}"), *raw_dir.glob(f"*/{NAMED_COPY_PREFIX}*")]
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return len(leftovers)


@contextlib.contextmanager
def named_copy(stored: Path, name: str) -> Iterator[Path]:
    """The stored bytes under their original file name (a hard link in a temporary folder), for readers whose
    evidence cites the file name; gone after the block."""
    with tempfile.TemporaryDirectory(prefix=NAMED_COPY_PREFIX, dir=stored.parent) as folder:
        target = Path(folder) / Path(name).name
        try:
            os.link(stored, target)
        except OSError:
            shutil.copyfile(stored, target)
        yield target

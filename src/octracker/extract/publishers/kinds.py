"""The statistics publishers' formats octracker reads, by kind name: the one list every route reads from.

`octracker ingest FILE --kind KIND`, the inbox (sidecar `kind` or detection), pipeline specs
(`extractor = "KIND"`) and feeds all find a publisher's reader here. A new format is one module with
`read(content, *, name)` (and `looks_like(content)` to be detected without a kind, `vintage(content, *, name)` to
tell its publisher's update time cheaply), its case in `reader_module` and one line below.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from octracker.content.catalog import Catalog

if TYPE_CHECKING:  # the readers, and Polars with them, load when a file is read, not when a kind is named
    from octracker.extract.publishers.table import PublisherTable

#: The last table read and the bytes it was read from (see `PublisherKind.read`): one at most, taken by the next
#: read of the same bytes.
_last_read: list[tuple[str, str, bytes, Catalog, PublisherTable]] = []


@dataclass(frozen=True)
class PublisherKind:
    """One publisher format: its reader module, the default source precedence and how it names its source."""

    name: str
    #: Statistics offices' tables beat the index, the index beats the press.
    precedence: int = 80
    #: The reader needs the indicator catalog (the index workbook matches its columns to it).
    reads_catalog: bool = False
    #: Recognises the format when the module has no `looks_like` of its own.
    detect: Callable[[bytes], bool] | None = None

    @property
    def module(self) -> ModuleType:
        return reader_module(self.name)

    def read(self, content: bytes, *, name: str, catalog: Catalog) -> PublisherTable:
        """The file's table. The inbox reads a file once to name its source, then again to load it: the second
        read of the same bytes takes the first one's table (a file of a million rows reads in tens of seconds)."""
        if _last_read:
            kind, read_name, read_content, read_catalog, table = _last_read[0]
            if (kind, read_name) == (self.name, name) and read_content is content and read_catalog is catalog:
                _last_read.clear()
                return table
        table = (
            self.module.read(content, name=name, catalog=catalog)
            if self.reads_catalog
            else self.module.read(content, name=name)
        )
        _last_read[:] = [(self.name, name, content, catalog, table)]
        return table

    def vintage(self, content: bytes, *, name: str, catalog: Catalog) -> dt.datetime | None:
        """When the publisher last updated this answer: the module's `vintage` (a cheap look at the part of the
        answer that says it) when it has one, else what reading the whole answer says."""
        peek = getattr(self.module, "vintage", None)
        if peek is not None:
            return peek(content, name=name)
        return self.read(content, name=name, catalog=catalog).updated

    @property
    def looks_like(self) -> Callable[[bytes], bool] | None:
        return getattr(self.module, "looks_like", None) or self.detect


def reader_module(kind: str) -> ModuleType:
    """The reader module of a publisher kind, imported when first used: the index workbook's reader shares the
    wide-table reader with the extractors, which list these kinds. Written out, not built from the name, so that
    the linters and the layer test see each import."""
    match kind:
        case "jsonstat":
            from octracker.extract.publishers import jsonstat

            return jsonstat
        case "sdmx_csv":
            from octracker.extract.publishers import sdmx_csv

            return sdmx_csv
        case "cbs_odata":
            from octracker.extract.publishers import cbs_odata

            return cbs_odata
        case "unodc_xlsx":
            from octracker.extract.publishers import unodc_xlsx

            return unodc_xlsx
        case "oci_workbook":
            from octracker.extract.publishers import oci_workbook

            return oci_workbook
    raise KeyError(f"no reader module for publisher kind {kind!r}")


def _workbook_parts(content: bytes, *parts: str) -> str:
    """The text of some parts of an XLSX workbook (sheet names, shared strings), empty for anything else."""
    if not content.startswith(b"PK"):
        return ""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            return "".join(archive.read(p)[:2_000_000].decode("utf-8", "replace") for p in parts if p in names)
    except (zipfile.BadZipFile, OSError):
        return ""


def _is_index_workbook(content: bytes) -> bool:
    """A workbook with a `<year>_dataset` sheet: the GI-TOC index, one sheet per edition."""
    return bool(re.search(r'<sheet [^>]*name="\d{4}_dataset"', _workbook_parts(content, "xl/workbook.xml")))


def _is_unodc_export(content: bytes) -> bool:
    """A workbook whose strings hold the UNODC portal's header (`Iso3_code` ... `Unit of measurement`)."""
    strings = _workbook_parts(content, "xl/sharedStrings.xml")
    return all(word in strings for word in (">UNODC<", ">Iso3_code<", ">Unit of measurement<"))


PUBLISHER_KINDS: dict[str, PublisherKind] = {
    kind.name: kind
    for kind in (
        PublisherKind("jsonstat"),
        PublisherKind("sdmx_csv"),
        PublisherKind("cbs_odata"),
        PublisherKind("unodc_xlsx", detect=_is_unodc_export),
        PublisherKind("oci_workbook", precedence=60, reads_catalog=True, detect=_is_index_workbook),
    )
}


def detect_publisher_kind(content: bytes) -> str | None:
    """The one publisher kind whose reader recognises these bytes; None when none or more than one does."""
    found = [kind.name for kind in PUBLISHER_KINDS.values() if kind.looks_like and kind.looks_like(content)]
    return found[0] if len(found) == 1 else None


def source_id_of(table: PublisherTable) -> str:
    """The source a publisher's table is: `<provider>-<dataset>`, the same for every vintage of it."""
    return f"{table.provider}-{table.dataset}"

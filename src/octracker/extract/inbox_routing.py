"""Which kind an inbox file is: the kinds the inbox knows, and detection when no sidecar names one.

Naming the kinds loads no reader (nor Polars): `octracker ingest` lists them for its `--kind` option, and a file
loaded before is reported unchanged without being read. Detection imports what it reads with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from octracker.content.catalog import Catalog
from octracker.content.documents import text_fault
from octracker.extract.publishers.kinds import PUBLISHER_KINDS, detect_publisher_kind
from octracker.extract.table_files import is_binary_table


@dataclass(frozen=True)
class InboxKind:
    """A kind of file the inbox reads: its extractor, default precedence and how its source_id is derived."""

    name: str
    extractor: str | None
    #: Statistics tables beat the index, the index beats the press (a sidecar `precedence` overrides).
    precedence: int
    #: Sidecar fields whose slug names the source, first present wins (else the file name stem).
    source_fields: tuple[str, ...]
    #: Each edition is a source of its own (the index); otherwise a later file revises the same source.
    per_edition: bool = False


INBOX_KINDS: dict[str, InboxKind] = {
    "observations_long": InboxKind("observations_long", "observations_long", 80, ("publisher", "title")),
    "oci_wide": InboxKind("oci_wide", "oci_wide", 60, ("title",), per_edition=True),
    "oci_profile": InboxKind("oci_profile", "oci_profile", 60, ("title",), per_edition=True),
    "article": InboxKind("article", None, 30, ("title",)),
    # Statistics publishers' formats: the source is the publisher's dataset (`estat-une_rt_m`), read from the file.
    **{k.name: InboxKind(k.name, k.name, k.precedence, ()) for k in PUBLISHER_KINDS.values()},
}


def detect_kind(path: Path, content: bytes, catalog: Catalog) -> str | None:
    """The kind of a file without a sidecar kind, from its bytes; None when unrecognised.

    A statistics publisher's format first (JSON-stat, SDMX-CSV, a CBS bundle, a UNODC export, the index
    workbook: each reader says whether the bytes are its own, and only one may), then Parquet and XLSX by
    their magic bytes and header, CSV by its header line, an index profile by its score blocks. An article is
    never guessed: any prose would pass for one.
    """
    from octracker.extract.tables import detect_table_kind

    publisher = detect_publisher_kind(content)
    if publisher is not None:
        return publisher
    binary = is_binary_table(content)
    # The header is read leniently, so a table saved in another encoding still reaches its reader, which
    # names the byte at fault instead of calling the file unrecognised.
    table = detect_table_kind(path, catalog)
    if table is not None or binary or text_fault(content) is not None:
        return table
    return "oci_profile" if has_profile_blocks(content.decode("utf-8-sig"), catalog) else None


def has_profile_blocks(text: str, catalog: Catalog) -> bool:
    """Whether the text holds at least one index score block of ten or more indicators."""
    from octracker.extract.oci_profile import parse_oci_profile

    blocks, _ = parse_oci_profile(text, edition=2000, catalog=catalog)
    return any(len(b.scores) >= 10 for b in blocks)

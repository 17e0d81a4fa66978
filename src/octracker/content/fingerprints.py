"""What a pipeline's result depends on, as one hash: the same hash means the same rows, so the run can be skipped.

A spec pipeline's rows are a function of the document's bytes, the spec file, the document's sidecar, the
contract and catalog (`schemas/`), and the engine's code. When none of these changed since the pipeline's
last load, extracting and comparing ten million rows only to find them unchanged is wasted work.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
from pathlib import Path

import duckdb

import octracker
from octracker.content.documents import Document
from octracker.content.specs import PipelineSpec

ENGINE_DIR = Path(octracker.__file__).resolve().parent


@functools.cache
def engine_fingerprint() -> str:
    """The engine's code and the libraries that read and check rows: a change in any of them re-reads."""
    # Polars' and Pandera's versions from their installed metadata: importing them here would cost every load
    # their import, also those that never read a row (a file loaded before).
    polars, pandera = importlib.metadata.version("polars"), importlib.metadata.version("pandera")
    digest = hashlib.sha256(f"{polars} {pandera} {duckdb.__version__}".encode())
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        digest.update(path.relative_to(ENGINE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def rules_fingerprint(spec: PipelineSpec, schemas_dir: Path) -> str:
    """One hash of how a spec pipeline reads its document: engine, spec, what the sidecar says of reading it (see
    `_reading`) and `schemas/`; not the bytes, nor the rest of the sidecar (a new edition's publication date reads
    its rows the same way).

    Under the same rules, the same table row always gives the same observation (see `octracker.store.history`).
    """
    return _digest(engine_fingerprint() + _reading(spec), [spec.path, *_schema_files(schemas_dir)])


def _reading(spec: PipelineSpec) -> str:
    """What a reader makes of a row depends on besides the engine, a spec file and `schemas/`: the reader and its
    parameters, the source, and the metadata an index's editions are read by; not the title, the publisher, the
    publication date or the rest of the source's record, which no row carries."""
    meta = spec.source
    return repr(
        (
            spec.extractor,
            sorted(spec.params.items()),
            spec.source_id,
            meta.kind,
            meta.edition,
            meta.previous_edition,
            meta.countries,
        )
    )


def feed_rules_fingerprint(spec: PipelineSpec, schemas_dir: Path) -> str:
    """One hash of how a feed pipeline reads its answers: engine, spec and `schemas/` (a catalog that maps a
    native series anew changes it). An answer loaded under other rules is read again, not fetched again."""
    return _digest(engine_fingerprint(), [spec.path, *_schema_files(schemas_dir)])


def _schema_files(schemas_dir: Path) -> list[Path]:
    return sorted(p for p in schemas_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _digest(head: str, paths: list[Path]) -> str:
    """sha256 of `head`, then each file's name and bytes."""
    digest = hashlib.sha256(head.encode())
    for path in paths:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def inbox_rules_fingerprint(spec: PipelineSpec, schemas_dir: Path) -> str:
    """One hash of how the inbox reads a table: engine, what the sidecar says of reading it (see `_reading`) and
    `schemas/`; not the bytes, nor the file's name.

    The inbox's counterpart of `rules_fingerprint` (an inbox file has no spec file), for the readers that skip
    rows known unchanged (`READS_KNOWN_ROWS`). The name the file arrives under does not count (an office's export
    named by its date): the rows an earlier file stated keep citing it, as they would under one name, and the
    raw store keeps it.
    """
    return _digest(engine_fingerprint() + _reading(spec), _schema_files(schemas_dir))


def input_fingerprint(rules: str, document: Document) -> str:
    """One hash of everything a spec pipeline's load depends on: its rules, the document's bytes and its metadata
    (a new title in the sidecar is written to the source's record, though its rows are read the same way)."""
    meta = repr(sorted(dataclasses.asdict(document.meta).items()))
    return hashlib.sha256(f"{rules} {document.sha256} {meta}".encode()).hexdigest()


def last_loaded_fingerprint(con: duckdb.DuckDBPyConnection, pipeline: str) -> tuple[str | None, str | None]:
    """The input and rules fingerprints of the pipeline's latest successful run (None when it never had one)."""
    row = con.execute(
        "SELECT input_sha256, rules_sha256 FROM runs WHERE pipeline = ? AND status = 'success' "
        "ORDER BY started_at DESC LIMIT 1",
        [pipeline],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def last_rules(con: duckdb.DuckDBPyConnection, pipeline: str) -> str | None:
    """The rules fingerprint of the pipeline's latest run that recorded one (a load, or a check that found the
    answer unchanged); None when none did."""
    row = con.execute(
        "SELECT rules_sha256 FROM runs WHERE pipeline = ? AND rules_sha256 IS NOT NULL "
        "ORDER BY started_at DESC LIMIT 1",
        [pipeline],
    ).fetchone()
    return row[0] if row else None


def record_fingerprint(con: duckdb.DuckDBPyConnection, run_id: str, fingerprint: str | None, rules: str) -> None:
    con.execute("UPDATE runs SET input_sha256 = ?, rules_sha256 = ? WHERE run_id = ?", [fingerprint, rules, run_id])

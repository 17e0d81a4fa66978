"""The inbox: files dropped into `warehouse/inbox/` (or given to `octracker ingest`) are routed, loaded and kept.

Each file is its own run of the implicit `inbox` pipeline: routed by its sidecar's `kind` (or `--kind`) or by
detection, extracted, validated and loaded whole, or refused whole. Every file read is kept in the raw store
by content hash; the inbox file itself moves to `inbox/archive/<sha256>/` when loaded and to
`inbox/quarantine/` (with a `.reason.txt`) when refused. Nothing is deleted. The same bytes with the same
metadata a second time are a no-op, reported unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from octracker.content.catalog import Catalog
from octracker.content.documents import (
    SIDECAR_SUFFIX,
    Document,
    SourceMeta,
    may_have_sidecar,
    meta_from_mapping,
    named_copy,
    read_sidecar_mapping,
    refuse_oversize,
    sha256_hex,
    sidecar_path,
    size_problem,
    store_raw,
    text_fault,
)
from octracker.content.fingerprints import inbox_rules_fingerprint, input_fingerprint, record_fingerprint
from octracker.content.specs import INBOX_PIPELINE, PipelineSpec, load_specs
from octracker.errors import InputRefused
from octracker.extract.inbox_routing import INBOX_KINDS, InboxKind, detect_kind
from octracker.extract.publishers.kinds import PUBLISHER_KINDS, source_id_of
from octracker.extract.table_files import is_binary_table
from octracker.load.results import PipelineResult, record_failure, refuse_document
from octracker.problems import Problem
from octracker.store.rows import scalar
from octracker.store.runs import finish_run, start_run, upsert_source
from octracker.store.settings import Settings
from octracker.store.warehouse import utc_now
from octracker.store.writers import write_transaction

ARCHIVE = "archive"
QUARANTINE = "quarantine"
#: Bytes of a refused text file kept in the quarantine row itself (the whole file stays on disk).
PAYLOAD_PREVIEW = 4000


@dataclass(frozen=True)
class IngestOverrides:
    """Flags of `octracker ingest`: they beat the sidecar."""

    kind: str | None = None
    edition: int | None = None
    published: dt.date | None = None


def list_inbox_files(inbox_dir: Path) -> list[Path]:
    """Files waiting in the inbox, oldest first: not sidecars, not hidden (still being written), not folders."""
    if not inbox_dir.is_dir():
        return []
    found = []
    for entry in os.scandir(inbox_dir):
        if entry.name.startswith(".") or entry.name.endswith(SIDECAR_SUFFIX):
            continue
        if entry.is_symlink() or entry.is_file(follow_symlinks=False):
            found.append((entry.stat(follow_symlinks=False).st_mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(found)]


def location_problem(path: Path, inbox_dir: Path) -> str | None:
    """Why a path is not a plain file of the inbox (a `..` path, a link leading out, a folder), or None."""
    inbox = inbox_dir.resolve()
    if path.parent.resolve() != inbox or ".." in path.parts:
        return f"{path} is not a file directly in the inbox {inbox}; names with '..' are refused"
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a loop, or a link to nothing
            return (
                f"{path.name} is a symbolic link to {os.readlink(path)}, which leads nowhere; copy the file in instead"
            )
        if target.parent != inbox:
            return f"{path.name} is a symbolic link to {os.readlink(path)}, outside the inbox; copy the file in instead"
    if not path.is_file():
        return f"{path.name} is not a regular file"
    return sidecar_problem(path)


def sidecar_problem(path: Path) -> str | None:
    """Why a file's sidecar must not be read (a link, or not a regular file), or None (also when it has none)."""
    if not may_have_sidecar(path):
        return None
    side = sidecar_path(path)
    if side.is_symlink():
        # Even a link inside the inbox is refused: a sidecar is small and written for its file, never shared.
        return (
            f"{side.name} (the sidecar of {path.name}) is a symbolic link to {os.readlink(side)}; "
            "put a copy of the sidecar beside the file instead"
        )
    if side.exists() and not side.is_file():
        return f"{side.name} (the sidecar of {path.name}) is not a regular file; replace it with a TOML file"
    return None


def claimed_source_problem(
    con: duckdb.DuckDBPyConnection, settings: Settings, source_id: str, publisher_kind: str | None = None
) -> str | None:
    """Why an inbox file may not load under `source_id`: it is another pipeline's source (or None).

    `publisher_kind` is given when the id is the publisher's own dataset code read from the file (no sidecar
    named it): such a file is a vintage of the same dataset and may revise the source of a pipeline that
    follows that dataset with the same reader; any other pipeline's source stays out of reach.
    """
    row = con.execute("SELECT pipeline FROM sources WHERE source_id = ?", [source_id]).fetchone()
    specs = _pipeline_specs(settings)
    owner = row[0] if row is not None and row[0] != INBOX_PIPELINE else None
    if owner is None:
        owner = next((s.name for s in specs if s.source.source_id == source_id), None)
    if owner is None:
        return None
    if publisher_kind is not None and any(s.name == owner and s.extractor == publisher_kind for s in specs):
        return None
    return (
        f"source_id {source_id!r} belongs to pipeline {owner!r}; an inbox file cannot load into another "
        "pipeline's source. Remove source_id from the sidecar (the inbox derives one) or choose an id of its own"
    )


def _pipeline_specs(settings: Settings) -> list[PipelineSpec]:
    """The configured pipelines, or none when their folder is missing (an inbox-only project)."""
    if not settings.pipelines_dir.is_dir():
        return []
    return load_specs(settings.pipelines_dir)


def derive_source_id(kind: InboxKind, meta: SourceMeta, path: Path) -> str:
    """The sidecar's source_id; else kind + publisher/title slug (so a later table revises); else the file stem."""
    if meta.source_id:
        return meta.source_id
    name = next((getattr(meta, f) for f in kind.source_fields if getattr(meta, f)), None)
    if name is None:
        return slug(path.name.split(".")[0]) or "inbox-file"
    parts = [kind.name.replace("_", "-"), slug(name)]
    if kind.per_edition and meta.edition is not None and str(meta.edition) not in parts[1]:
        parts.append(str(meta.edition))
    return "-".join(parts)


def slug(text: str, limit: int = 60) -> str:
    """Lower-case words joined by '-', whole words only, at most `limit` characters."""
    kept: list[str] = []
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if kept and len("-".join([*kept, word])) > limit:
            break
        kept.append(word[:limit])
    return "-".join(kept)


def meta_fingerprint(meta: SourceMeta, kind: str | None) -> str:
    """A hash of the effective metadata: the same bytes under other metadata are handled again."""
    fields = {**dataclasses.asdict(meta), "kind": kind}
    return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()


def ingest_inbox(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: Catalog,
    *,
    trigger: str = "manual",
    paths: list[Path] | None = None,
    overrides: IngestOverrides = IngestOverrides(),
    on_result: Callable[[PipelineResult], None] | None = None,
    hashes: Mapping[Path, str] | None = None,
    contents: Mapping[Path, bytes] | None = None,
) -> list[PipelineResult]:
    """Ingest the given inbox files (all waiting files when None), each in its own run.

    `hashes` gives the sha256 of files whose bytes this process wrote itself (`stage_into_inbox`): they are not
    hashed again; `contents` those bytes, which are not read again."""
    results = []
    for path in list_inbox_files(settings.inbox_dir) if paths is None else paths:
        sha256 = hashes.get(path) if hashes else None
        content = contents.get(path) if contents and sha256 is not None else None
        result = ingest_file(
            con, settings, catalog, path, trigger=trigger, overrides=overrides, sha256=sha256, content=content
        )
        results.append(result)
        if on_result:
            on_result(result)
    return results


@dataclass
class _InboxRun:
    """One file's run: the bookkeeping every outcome writes."""

    con: duckdb.DuckDBPyConnection
    settings: Settings
    path: Path
    run_id: str
    sha256: str | None = None
    meta_sha256: str = ""
    kind: str | None = None
    source_id: str | None = None

    def spec(
        self,
        meta: SourceMeta = SourceMeta(),
        extractor: str = "-",
        precedence: int = 0,
        params: dict | None = None,
        readable: Path | None = None,
    ) -> PipelineSpec:
        return PipelineSpec(
            name=INBOX_PIPELINE,
            path=self.path,
            extractor=extractor,
            document=readable or self.path,
            precedence=precedence,
            source=meta,
            params=params or {},
            full_snapshot=False,
        )

    def record(
        self, con: duckdb.DuckDBPyConnection, status: str, kept_at: str | None, reason: str | None = None
    ) -> None:
        con.execute(
            "INSERT INTO inbox_files (run_id, file_name, sha256, meta_sha256, kind, source_id, status, reason, "
            "kept_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.run_id,
                self.path.name,
                self.sha256,
                self.meta_sha256,
                self.kind,
                self.source_id,
                status,
                reason,
                kept_at,
                utc_now(),
            ],
        )

    def refuse(
        self, problems: list[Problem], document: Document | None = None, spec: PipelineSpec | None = None
    ) -> PipelineResult:
        """Quarantine the problems, then move the file (a link as the link itself) to inbox/quarantine/."""
        kept = quarantine_path(self.path)
        result = refuse_document(
            self.con,
            spec or self.spec(),
            self.run_id,
            document,
            problems,
            also=lambda c, message: self.record(c, "refused", kept, message),
        )
        return self.refused(result, kept)

    def archived(self, result: PipelineResult, kept: str) -> PipelineResult:
        """After a committed load: the file to the archive. A move that fails changes nothing of the load; the
        file stays in the inbox and the next run, finding it loaded before, moves it then."""
        try:
            move_with_sidecar(self.path, self.settings.inbox_dir / kept)
        except OSError as exc:
            note = (
                f"loaded and recorded, but not moved to inbox/{kept} ({exc.strerror or exc}); it stays in the "
                "inbox and the next run moves it: check that inbox/archive is a folder octracker can write to"
            )

            def forget_kept_at() -> None:
                self.con.execute(
                    "UPDATE inbox_files SET kept_at = NULL, reason = ? WHERE run_id = ?", [note, self.run_id]
                )

            write_transaction(self.con, forget_kept_at, what=f"inbox file {self.path.name}")
            return dataclasses.replace(result, subject=self.path.name, error=note)
        return dataclasses.replace(result, subject=self.path.name)

    def refused(self, result: PipelineResult, kept: str) -> PipelineResult:
        """After a committed refusal: the file and the reason beside it in the quarantine folder."""
        move_with_sidecar(self.path, self.settings.inbox_dir / kept)
        (self.settings.inbox_dir / f"{kept}.reason.txt").write_text(f"{result.error}\n", encoding="utf-8")
        return dataclasses.replace(result, subject=self.path.name)


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: Catalog,
    path: Path,
    *,
    trigger: str = "manual",
    overrides: IngestOverrides = IngestOverrides(),
    sha256: str | None = None,
    content: bytes | None = None,
) -> PipelineResult:
    """Route, extract, validate and load one inbox file, or refuse it whole; never raises for a bad file.

    `sha256`, when given, is the hash of the file's bytes as this process wrote them, and `content` those bytes (see
    `ingest_inbox`)."""
    run = _InboxRun(con, settings, path, start_run(con, INBOX_PIPELINE, trigger))
    try:
        return _ingest(run, catalog, overrides, sha256, content)
    except InputRefused as exc:
        return run.refuse([Problem("refused", str(exc), "")])
    except Exception as exc:  # noqa: BLE001 - recorded as a failed run; the file stays in the inbox for next time
        return dataclasses.replace(record_failure(con, run.spec(), run.run_id, exc), subject=path.name)


def _ingest(
    run: _InboxRun,
    catalog: Catalog,
    overrides: IngestOverrides,
    known_sha256: str | None,
    known_content: bytes | None = None,
) -> PipelineResult:
    # Load inputs.
    where = location_problem(run.path, run.settings.inbox_dir)
    if where is not None:
        if run.path.parent.resolve() != run.settings.inbox_dir.resolve() or ".." in run.path.parts:
            # Not ours to move: refuse it and leave the file where it is.
            result = refuse_document(
                run.con,
                run.spec(),
                run.run_id,
                None,
                [Problem("outside_inbox", where, str(run.path))],
                also=lambda c, message: run.record(c, "refused", None, message),
            )
            return dataclasses.replace(result, subject=run.path.name)
        return run.refuse([Problem("outside_inbox", where, str(run.path))])
    refused = size_problem(run.path)
    if refused is not None:
        return run.refuse([Problem(*refused, payload="")])
    content = run.path.read_bytes() if known_content is None else known_content
    run.sha256 = sha256 = known_sha256 or sha256_hex(content)
    sidecar = read_sidecar_mapping(run.path)
    meta = meta_from_mapping(sidecar, str(sidecar_path(run.path))).merged(
        {
            "kind": overrides.kind,
            "edition": overrides.edition,
            "published_on": overrides.published,
            "published_precision": "day" if overrides.published else None,
        }
    )
    document = Document(path=run.path, content=content, sha256=sha256, meta=meta)
    readable = store_raw(run.settings.raw_dir, document)
    run.kind = meta.kind or kind_loaded_before(run.con, sha256, meta) or detect_kind(readable, content, catalog)
    run.meta_sha256 = meta_fingerprint(meta, run.kind)
    if seen_before(run.con, sha256, run.meta_sha256):
        return _unchanged(run, sha256)
    # Read now, and only now: what reads, checks and loads a file (Polars, pyarrow, the readers) is not loaded
    # for a file reported unchanged.
    from octracker.extract.extractors import EXTRACTORS
    from octracker.load.loading import extract_and_load
    from octracker.store.history import known_row_hashes

    # Process data.
    if run.kind is None:
        return run.refuse(
            [Problem("unrecognised_file", unrecognised_message(run.path, content), preview(content, readable))],
            document,
        )
    kind = INBOX_KINDS.get(run.kind)
    if kind is None:
        return run.refuse(
            [
                Problem(
                    "unknown_kind",
                    f"kind {run.kind!r} is not one of {', '.join(INBOX_KINDS)}",
                    preview(content, readable),
                )
            ],
            document,
        )
    publisher_kind = kind.name if kind.name in PUBLISHER_KINDS and not meta.source_id else None
    if kind.name in PUBLISHER_KINDS:
        meta = publisher_meta(kind.name, meta, content, run.path.name, catalog)
    run.source_id = derive_source_id(kind, meta, run.path)
    claimed = claimed_source_problem(run.con, run.settings, run.source_id, publisher_kind)
    if claimed is not None:
        return run.refuse([Problem("source_of_another_pipeline", claimed, "")], document)
    newer = newer_publication(run.con, run.source_id, meta, run.path)
    if newer is not None:
        return _superseded(run, newer)
    meta = dataclasses.replace(meta, source_id=run.source_id, kind=kind.name)
    document = dataclasses.replace(document, meta=meta)
    precedence = meta.precedence if meta.precedence is not None else kind.precedence
    params = {k: v for k, v in (("edition", meta.edition), ("previous_edition", meta.previous_edition)) if v}
    spec = run.spec(meta, kind.extractor or "-", precedence, params, readable)
    if kind.name == "article":
        return _record_article(run, spec, document)
    if kind.extractor not in EXTRACTORS:
        return run.refuse(
            [
                Problem(
                    "kind_not_supported",
                    f"kind {kind.name!r} cannot be read by this install (no extractor {kind.extractor!r})",
                    "",
                )
            ],
            document,
            spec,
        )

    # Save outputs.
    archived, quarantined = archive_path(run.settings.inbox_dir, run.path, sha256), quarantine_path(run.path)
    # Under the rules of the source's last load, a table row it read gives the same observation: not read again (or,
    # in a table compared by key, read and left as it is; see `known_row_hashes`).
    rules = inbox_rules_fingerprint(spec, run.settings.schemas_dir)
    same_rules = rules == last_rules(run.con, run.source_id)
    known = known_row_hashes(run.con, run.source_id, full_snapshot=spec.full_snapshot) if same_rules else None

    def loaded(con: duckdb.DuckDBPyConnection) -> None:
        run.record(con, "loaded", archived)
        record_fingerprint(con, run.run_id, input_fingerprint(rules, document), rules)

    with named_copy(readable, run.path.name) as named:
        result = extract_and_load(
            run.con,
            dataclasses.replace(spec, document=named),
            run.settings,
            catalog,
            run.run_id,
            document,
            also=loaded,
            also_refused=lambda c, message: run.record(c, "refused", quarantined, message),
            known_rows=known,
        )
    if result.status == "refused":
        return run.refused(result, quarantined)
    return run.archived(result, archived)


def publisher_meta(kind: str, meta: SourceMeta, content: bytes, name: str, catalog: Catalog) -> SourceMeta:
    """A publisher's file names its own source: the dataset (`estat-une_rt_m`, the same for every vintage of
    it), its title and, as the publication date, when the publisher last updated it; the sidecar's win."""
    table = PUBLISHER_KINDS[kind].read(content, name=name, catalog=catalog)
    if not meta.source_id:
        meta = dataclasses.replace(meta, source_id=source_id_of(table))
    if not meta.title and table.title:
        meta = dataclasses.replace(meta, title=table.title)
    if meta.published_on is None and table.updated is not None:
        meta = dataclasses.replace(meta, published_on=table.updated.date(), published_precision="day")
    return meta


def _unchanged(run: _InboxRun, sha256: str) -> PipelineResult:
    kept = archive_path(run.settings.inbox_dir, run.path, sha256)

    def write() -> None:
        run.record(run.con, "unchanged", kept, "the same content and metadata were loaded before")
        finish_run(run.con, run.run_id, status="success")

    write_transaction(run.con, write, what=f"inbox file {run.path.name}")
    return run.archived(PipelineResult(INBOX_PIPELINE, run.run_id, "unchanged"), kept)


def newer_publication(con: duckdb.DuckDBPyConnection, source_id: str, meta: SourceMeta, path: Path) -> str | None:
    """Why this file must not replace what its source holds: a newer publication is loaded already (or None).

    Newer by the sidecars' `published` dates when both give one; else by time: a file that was already waiting
    in the inbox when the source's current version was loaded (`ingest` of a later file) is the older one.
    """
    row = con.execute("SELECT published_on, retrieved_at FROM sources WHERE source_id = ?", [source_id]).fetchone()
    if row is None:
        return None
    held_on, loaded_at = row
    if meta.published_on is not None and held_on is not None:
        if meta.published_on >= held_on:
            return None
        return (
            f"published {meta.published_on}, before the {held_on} publication of source {source_id!r} loaded "
            "already; kept in the archive, not loaded. Give it a later `published` date if it corrects that one"
        )
    if meta.published_on is not None or held_on is not None:
        return None
    waiting_since = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    if waiting_since >= loaded_at:
        return None
    return (
        f"waiting since {waiting_since:%Y-%m-%d %H:%M:%S} UTC, before source {source_id!r} was loaded from a later "
        "file; kept in the archive, not loaded. Give both a `published` date in their sidecars to order them"
    )


def _superseded(run: _InboxRun, reason: str) -> PipelineResult:
    kept = archive_path(run.settings.inbox_dir, run.path, run.sha256 or "")

    def write() -> None:
        run.record(run.con, "superseded", kept, reason)
        finish_run(run.con, run.run_id, status="success")

    write_transaction(run.con, write, what=f"inbox file {run.path.name}")
    result = run.archived(PipelineResult(INBOX_PIPELINE, run.run_id, "unchanged"), kept)
    return result if result.error else dataclasses.replace(result, error=f"{run.path.name}: {reason}")


def _record_article(run: _InboxRun, spec: PipelineSpec, document: Document) -> PipelineResult:
    """Articles become candidates for review (`octracker review`)."""
    from octracker.load.review import record_candidates

    kept = archive_path(run.settings.inbox_dir, run.path, document.sha256)

    def write() -> int:
        upsert_source(
            run.con,
            document,
            source_id=spec.source_id,
            kind="article",
            pipeline=INBOX_PIPELINE,
            precedence=spec.precedence,
        )
        proposed = record_candidates(run.con, document, run.settings, run.run_id)
        finish_run(run.con, run.run_id, status="success")
        run.record(run.con, "loaded", kept)
        return proposed

    proposed = write_transaction(run.con, write, what=f"inbox file {run.path.name}")
    return dataclasses.replace(
        run.archived(PipelineResult(INBOX_PIPELINE, run.run_id, "success"), kept), candidates=proposed
    )


def last_rules(con: duckdb.DuckDBPyConnection, source_id: str) -> str | None:
    """The rules fingerprint of the source's latest file loaded through the inbox (None when it had none)."""
    row = con.execute(
        "SELECT r.rules_sha256 FROM inbox_files AS f JOIN runs AS r USING (run_id) "
        "WHERE f.source_id = ? AND f.status = 'loaded' ORDER BY r.started_at DESC LIMIT 1",
        [source_id],
    ).fetchone()
    return row[0] if row else None


def kind_loaded_before(con: duckdb.DuckDBPyConnection, sha256: str, meta: SourceMeta) -> str | None:
    """The publisher kind these bytes were detected as when they were loaded under this metadata, or None.

    A publisher's format is told from the bytes alone (see `detect_publisher_kind`), so the same bytes are detected
    as the same kind again: the kind recorded is what detection would say, and the file is known without a reader
    (and Polars) being loaded to detect it. Other kinds are detected against the catalog, which may have changed.
    """
    for (kind,) in con.execute(
        "SELECT DISTINCT kind FROM inbox_files WHERE sha256 = ? AND status = 'loaded' ORDER BY kind", [sha256]
    ).fetchall():
        if kind in PUBLISHER_KINDS and seen_before(con, sha256, meta_fingerprint(meta, kind)):
            return kind
    return None


def seen_before(con: duckdb.DuckDBPyConnection, sha256: str, meta_sha256: str) -> bool:
    """Whether these bytes under this metadata were loaded before (a refused file may be tried again)."""
    return (
        scalar(
            con,
            "SELECT COUNT(*) FROM inbox_files WHERE sha256 = ? AND meta_sha256 = ? AND status = 'loaded'",
            [sha256, meta_sha256],
        )
        > 0
    )


#: Largest file `loaded_before` hashes to answer; a larger one is taken to be new (reading it costs far more).
LOADED_BEFORE_MAX_BYTES = 64 * 1024 * 1024


def loaded_before(con: duckdb.DuckDBPyConnection, paths: list[Path], known: Mapping[Path, str]) -> bool:
    """Whether the bytes of every one of these files were loaded before, so that none will be read (unless its
    metadata changed: `seen_before` decides, file by file). A file's hash is taken from `known` (see
    `stage_into_inbox`), else read. False for a file it cannot read, or larger than LOADED_BEFORE_MAX_BYTES."""
    hashes = set()
    for path in paths:
        if path in known:
            hashes.add(known[path])
            continue
        try:
            if path.stat().st_size > LOADED_BEFORE_MAX_BYTES:
                return False
            hashes.add(sha256_hex(path.read_bytes()))
        except OSError:
            return False
    held = scalar(
        con,
        "SELECT COUNT(DISTINCT sha256) FROM inbox_files WHERE status = 'loaded' AND list_contains(?, sha256)",
        [sorted(hashes)],
    )
    return held == len(hashes)


def unrecognised_message(path: Path, content: bytes = b"") -> str:
    fault = None if is_binary_table(content) else text_fault(content)
    if fault is not None:
        # Naming a kind would not help: no reader takes these bytes.
        return f"{path.name}: not a file octracker reads: {fault[1]} (it reads UTF-8 text, CSV, Parquet and XLSX)"
    return (
        f"{path.name}: not a recognised file (an index profile in text, a long table in CSV or Parquet, or a "
        'wide index table in CSV or XLSX); give its kind in a sidecar (`kind = "..."` in '
        f"{path.name}{SIDECAR_SUFFIX}) or with --kind"
    )


def preview(content: bytes, kept: Path) -> str:
    """What a quarantine row keeps of a refused file: the start of its text, or where its bytes are."""
    if text_fault(content) is not None:
        return f"binary file, {len(content)} bytes, kept at {kept}"
    text = content[:PAYLOAD_PREVIEW].decode("utf-8", errors="ignore")  # a character cut at the end is dropped
    return text + (f"\n… ({len(content)} bytes in all, kept at {kept})" if len(content) > PAYLOAD_PREVIEW else "")


#: Longest name a kept file gets, in bytes: room for `.reason.txt` or `.meta.toml` after it within the
#: 255 bytes a file name may have.
MAX_KEPT_NAME_BYTES = 255 - len(".reason.txt")


def kept_name(prefix: str, name: str) -> str:
    """`prefix` + `name`, the name's middle cut (its end and suffix kept) to fit MAX_KEPT_NAME_BYTES."""
    whole = prefix + name
    if len(whole.encode()) <= MAX_KEPT_NAME_BYTES:
        return whole
    room = MAX_KEPT_NAME_BYTES - len(prefix.encode()) - len("…".encode())
    encoded = name.encode()
    head = encoded[: room // 2].decode(errors="ignore")
    tail = encoded[len(encoded) - (room - room // 2) :].decode(errors="ignore")
    return f"{prefix}{head}…{tail}"


def archive_path(inbox_dir: Path, path: Path, sha256: str) -> str:
    """Where a handled file is kept, relative to the inbox: archive/<sha256>/<name>, never over another file."""
    folder = Path(ARCHIVE) / sha256
    target = folder / kept_name("", path.name)
    if (inbox_dir / target).exists() or (inbox_dir / target).is_symlink():
        target = folder / kept_name(f"{utc_now():%Y%m%dT%H%M%S%f}-", path.name)
    return str(target)


def quarantine_path(path: Path) -> str:
    """Where a refused file is kept, relative to the inbox: quarantine/<UTC time>-<name>."""
    return str(Path(QUARANTINE) / kept_name(f"{utc_now():%Y%m%dT%H%M%S%f}-", path.name))


def move_with_sidecar(path: Path, target: Path) -> None:
    """Rename the file and its sidecar (if any) to `target` (same file system: atomic, never a copy-and-delete)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    moves = [(path, target)]
    if may_have_sidecar(path):
        moves.append((sidecar_path(path), sidecar_path(target)))
    for source, destination in moves:
        if source.exists() or source.is_symlink():
            os.rename(source, destination)


@dataclass(frozen=True)
class Staged:
    """A file `stage_into_inbox` put in the inbox: where, and, when this copied its bytes through memory, the bytes
    and their sha256 (not read nor hashed again to be loaded)."""

    path: Path
    sha256: str | None = None
    content: bytes | None = field(default=None, repr=False)


def stage_into_inbox(path: Path, inbox_dir: Path) -> Staged:
    """Copy a file (and its sidecar) into the inbox under its own name, for `octracker ingest PATH`: the path it is
    read from, and the bytes written and their sha256 when this copied them through memory (a file of at most
    MAX_DOCUMENT_BYTES, which its load reads whole: it is hashed as it is written, in a thread, and neither read
    nor hashed again).

    Only the base name is used, so nothing lands outside the inbox; a name already waiting gets a prefix.
    A file already directly in the inbox is used where it is.
    """
    inbox_dir.mkdir(parents=True, exist_ok=True)
    if path.parent.resolve() == inbox_dir.resolve() and not path.is_symlink():
        return Staged(path)
    if not path.is_file():
        raise InputRefused(f"{path}: no such file")
    refuse_oversize(path)  # before copying a byte of it
    target = inbox_dir / path.name
    if target.exists() or target.is_symlink():
        target = inbox_dir / f"{utc_now():%Y%m%dT%H%M%S%f}-{path.name}"
    staged = Staged(target)
    for source, destination in ((sidecar_path(path), sidecar_path(target)), (path, target)):
        if source.exists():
            # Written under a hidden name, then renamed: a scheduler never sees half a file.
            partial = destination.with_name(f".{destination.name}.partial")
            if source == path:
                content = source.read_bytes()
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="octracker-hash") as pool:
                    hashed = pool.submit(sha256_hex, content)  # beside the write: both leave the interpreter free
                    partial.write_bytes(content)
                    staged = Staged(target, hashed.result(), content)
            else:
                shutil.copyfile(source, partial)
            os.replace(partial, destination)
    return staged

"""Pipelines that read an HTTP feed: the spec's `[feed]` table, the state kept per pipeline, and one run.

An unchanged feed costs one request (a conditional GET answered 304, or the same content hash) and loads
nothing. The state (validators, content hash) is saved only with a successful load, so a refused body is
fetched again on the next run rather than hidden behind a 304.

A statistics publisher's answer also says its vintage (Eurostat `updated`, SDMX `LAST UPDATE`, CBS
`TableInfos.Modified`): an answer of the vintage already loaded is unchanged even when its bytes differ, and
a CBS table whose `TableInfos` says so costs that one small request. A feed that cannot be reached (no HTTP
answer at all, or `OCTRACKER_OFFLINE`) is reported `unreachable` and its last data kept; when nothing was
ever loaded from it, its bundled snapshot is loaded instead, so the main job works offline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import duckdb
import httpx
import polars as pl

from octracker.content.catalog import Catalog
from octracker.content.documents import Document, named_copy, read_document, sha256_hex, store_raw
from octracker.content.feed_specs import PUBLISHER_FORMATS, FeedConfig, read_feed_table
from octracker.content.fingerprints import feed_rules_fingerprint, last_rules, record_fingerprint
from octracker.content.specs import PipelineSpec
from octracker.errors import InputRefused, OctrackerError
from octracker.extracts import Problem
from octracker.httpclient import new_client, public_url
from octracker.load.feeds import FeedFailed, FeedRefused, FeedState, FetchResult, fetch_feed
from octracker.load.loading import extract_and_load
from octracker.load.publisher_feeds import fetch_cbs_table, publisher_vintage
from octracker.load.results import PipelineResult, record_failure, refuse_document
from octracker.store.query import open_locked_reader
from octracker.store.rows import scalar
from octracker.store.runs import finish_run, start_run
from octracker.store.settings import Settings
from octracker.store.warehouse import utc_now
from octracker.store.writers import write_transaction


def read_feed_state(con: duckdb.DuckDBPyConnection, pipeline: str, url: str) -> FeedState | None:
    """The validators and hash of the last content loaded from this pipeline's url (None: never, or another url)."""
    row = con.execute(
        "SELECT etag, last_modified, sha256 FROM feed_state WHERE pipeline = ? AND url = ?", [pipeline, public_url(url)]
    ).fetchone()
    return FeedState(etag=row[0], last_modified=row[1], sha256=row[2]) if row else None


def read_feed_vintage(con: duckdb.DuckDBPyConnection, pipeline: str, url: str) -> dt.datetime | None:
    """The publisher's vintage of what this pipeline last loaded from its url (None: never, or not said)."""
    row = con.execute(
        "SELECT vintage FROM feed_state WHERE pipeline = ? AND url = ?", [pipeline, public_url(url)]
    ).fetchone()
    return row[0] if row else None


def save_feed_state(
    con: duckdb.DuckDBPyConnection, pipeline: str, url: str, result: FetchResult, vintage: dt.datetime | None = None
) -> None:
    """Replace the pipeline's state with this fetch's (the caller owns the transaction)."""
    now = utc_now()
    previous = con.execute(
        "SELECT changed_at, sha256 FROM feed_state WHERE pipeline = ? AND url = ?", [pipeline, public_url(url)]
    ).fetchone()
    # An answer read again from the raw store (new rules) is not a change of the feed's content.
    changed = result.status == "new" and (previous is None or previous[1] != result.sha256)
    con.execute("DELETE FROM feed_state WHERE pipeline = ?", [pipeline])
    con.execute(
        "INSERT INTO feed_state (pipeline, url, etag, last_modified, sha256, http_status, checked_at, changed_at, "
        "vintage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pipeline,
            public_url(url),
            result.etag,
            result.last_modified,
            result.sha256,
            result.http_status,
            now,
            now if changed or previous is None else previous[0],
            vintage,
        ],
    )


def json_records_to_csv(content: bytes, where: str) -> bytes:
    """A JSON long table (an array of row objects, or {"observations": [...]}) as the equivalent CSV."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputRefused(f"{where}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("observations"), list):
        data = data["observations"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputRefused(f'{where}: a JSON long table is an array of row objects (or {{"observations": [...]}})')
    # Every cell as text, so the CSV reader applies the same checks as to any CSV file.
    frame = pl.DataFrame(
        [{k: None if v is None else str(v) for k, v in r.items()} for r in data], infer_schema_length=None
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def feed_document(
    spec: PipelineSpec, config: FeedConfig, result: FetchResult, settings: Settings
) -> tuple[Document, Path]:
    """The fetched body as a document (kept in the raw store) and the file its extractor reads."""
    url_name = PurePosixPath(urlsplit(config.fetch.url).path).name
    name = url_name if url_name.endswith(config.suffix) else f"{spec.name}{config.suffix}"
    meta = spec.source
    if meta.url is None:
        meta = dataclasses.replace(meta, url=public_url(config.fetch.url))
    content = result.content or b""
    document = Document(path=Path(name), content=content, sha256=result.sha256 or sha256_hex(content), meta=meta)
    stored = store_raw(settings.raw_dir, document)
    if config.format != "json":
        return document, stored
    csv_content = json_records_to_csv(content, name)
    derived = Document(
        path=Path(name).with_suffix(".csv"), content=csv_content, sha256=sha256_hex(csv_content), meta=meta
    )
    return document, store_raw(settings.raw_dir, derived)


@dataclass(frozen=True)
class Prefetched:
    """A feed's answer fetched before the writer was taken, and the state it was asked against.

    A fetch may take minutes (a slow or trickling server, retries, a CBS table's pages): made before the refresh
    opens the warehouse, it holds no writer. The answer is used if the warehouse, once open, holds the same
    state; otherwise (the published copy it was read from was behind) the feed is fetched again.
    """

    state: FeedState | None
    vintage: dt.datetime | None
    answer: tuple[FetchResult, dt.datetime | None] | None = None
    error: Exception | None = None

    def take(self) -> tuple[FetchResult, dt.datetime | None]:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


def fetch_answer(
    http: httpx.Client,
    config: FeedConfig,
    state: FeedState | None,
    vintage: dt.datetime | None,
    *,
    sleep: Callable[[float], bool | None] = time.sleep,
) -> tuple[FetchResult, dt.datetime | None]:
    """The feed's answer and, for a CBS table, its vintage (see `fetch_cbs_table`)."""
    if config.format == "cbs_odata":
        return fetch_cbs_table(http, config, state, vintage)
    return fetch_feed(http, config.fetch, state, sleep=sleep), None


def published_feed_states(settings: Settings) -> dict[tuple[str, str], tuple[FeedState, dt.datetime | None]] | None:
    """Every pipeline's feed state and vintage as the published copy (or the lake) has them; None if unreadable."""
    target = settings.read_target
    if isinstance(target, Path) and not target.exists():
        return {}
    # Opened as the scheduler's other readers open it: DuckDB refuses a second connection to a file in one
    # process with another configuration.
    try:
        con = open_locked_reader(target)
    except (OctrackerError, duckdb.Error):
        return None
    try:
        rows = con.execute("SELECT pipeline, url, etag, last_modified, sha256, vintage FROM feed_state").fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return {(p, url): (FeedState(etag=e, last_modified=m, sha256=h), v) for p, url, e, m, h, v in rows}


def prefetch_feeds(
    settings: Settings, specs: list[PipelineSpec], stopping: threading.Event | None = None
) -> dict[str, Prefetched]:
    """Fetch the feeds of `specs` before the refresh takes the writer, each against its published state.

    A feed whose spec cannot be read, that is offline, or whose state cannot be read is left to the run, which
    fetches it under the writer as before. Once `stopping` is set no further feed is fetched and retry waits end.
    """
    feeds = [s for s in specs if s.feed is not None]
    states = published_feed_states(settings) if feeds else None
    if states is None:
        return {}
    sleep = stopping.wait if stopping is not None else time.sleep
    fetched: dict[str, Prefetched] = {}
    with new_client() as http:
        for spec in feeds:
            if stopping is not None and stopping.is_set():
                break
            try:
                config = read_feed_table(spec.feed or {}, str(spec.path))
            except Exception:  # noqa: BLE001 - the run reads the spec again and records what is wrong with it
                continue
            if settings.offline and not on_this_machine(config.fetch.url):
                continue
            state, vintage = states.get((spec.name, public_url(config.fetch.url)), (None, None))
            try:
                answer = fetch_answer(http, config, state, vintage, sleep=sleep)
            except Exception as exc:  # noqa: BLE001 - raised again in the run, which records it as its outcome
                fetched[spec.name] = Prefetched(state, vintage, error=exc)
            else:
                fetched[spec.name] = Prefetched(state, vintage, answer=answer)
    return fetched


def run_feed_pipeline(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    *,
    trigger: str = "manual",
    client: httpx.Client | None = None,
    prefetched: Prefetched | None = None,
) -> PipelineResult:
    """Fetch the spec's feed (or take its `prefetched` answer); load it when its content is new, else record an
    unchanged (or unreachable) run."""
    run_id = start_run(con, spec.name, trigger)
    spec = (
        spec
        if spec.source.source_id
        else dataclasses.replace(spec, source=dataclasses.replace(spec.source, source_id=spec.name))
    )
    try:
        config = read_feed_table(spec.feed or {}, str(spec.path))
        rules = feed_rules_fingerprint(spec, settings.schemas_dir)
        if settings.offline and not on_this_machine(config.fetch.url):
            reason = "offline (OCTRACKER_OFFLINE)"
            return record_unreachable(con, spec, settings, catalog, run_id, config, reason, rules)
        state = read_feed_state(con, spec.name, config.fetch.url)
        vintage = read_feed_vintage(con, spec.name, config.fetch.url)
        try:
            if prefetched is not None and (prefetched.state, prefetched.vintage) == (state, vintage):
                result, fetched = prefetched.take()
            else:
                # A client passed in belongs to the caller (tests, a batch of feeds); one made here is closed here.
                with contextlib.nullcontext(client) if client else new_client() as http:
                    result, fetched = fetch_answer(http, config, state, vintage)
        except FeedFailed as exc:
            if exc.status is not None:  # the server answered, with errors: a failure, not an absence
                raise
            return record_unreachable(con, spec, settings, catalog, run_id, config, str(exc), rules)
        why = {"not_modified": "not modified (304)", "unchanged": "same content as last loaded"}.get(result.status)
        if result.status == "new" and config.format in PUBLISHER_FORMATS and config.format != "cbs_odata":
            fetched = publisher_vintage(config.format, result.content or b"", f"{spec.name}{config.suffix}", catalog)
            if fetched is not None and fetched == vintage:
                result, why = (
                    dataclasses.replace(result, status="unchanged"),
                    f"same vintage as last loaded ({fetched})",
                )
        if config.format == "cbs_odata" and result.status == "unchanged" and fetched == vintage:
            why = f"table not modified since {fetched} (TableInfos)"
        stored = stored_answer(con, spec, settings, config, state) if result.status != "new" else None
        if stored is not None and last_rules(con, spec.name) != rules:
            # The answer loaded last, read again: the catalog (a native series mapped anew), the spec or the
            # engine changed since, and the publisher has nothing newer to fetch.
            result, fetched = dataclasses.replace(result, status="new", content=stored), fetched or vintage
        elif result.status != "new":

            def write() -> None:
                save_feed_state(con, spec.name, config.fetch.url, result, fetched or vintage)
                finish_run(con, run_id, status="success")
                record_fingerprint(con, run_id, result.sha256, rules)

            write_transaction(con, write, what=f"pipeline {spec.name}")
            return PipelineResult(spec.name, run_id, "unchanged", subject=f"feed {why}")
        return load_answer(con, spec, settings, catalog, run_id, config, result, fetched, rules)
    except FeedRefused as exc:
        return refuse_document(con, spec, run_id, None, [Problem("feed_refused", str(exc), exc.url)])
    except InputRefused as exc:
        return refuse_document(con, spec, run_id, None, [Problem("refused", str(exc), "")])
    except Exception as exc:  # noqa: BLE001 - recorded as a failed run; the other pipelines go on
        return record_failure(con, spec, run_id, exc)


def stored_answer(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, settings: Settings, config: FeedConfig, state: FeedState | None
) -> bytes | None:
    """The answer the feed's data was last loaded from, as kept in the raw store (None: another source was loaded
    last, such as the bundled snapshot, or the copy is gone)."""
    if state is None or state.sha256 is None:
        return None
    loaded = con.execute("SELECT sha256 FROM sources WHERE source_id = ?", [spec.source.source_id]).fetchone()
    kept = settings.raw_dir / state.sha256[:2] / f"{state.sha256}{config.suffix}"
    if loaded is None or loaded[0] != state.sha256 or not kept.is_file():
        return None
    return kept.read_bytes()


def load_answer(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    config: FeedConfig,
    result: FetchResult,
    fetched: dt.datetime | None,
    rules: str,
) -> PipelineResult:
    """Load an answer (new, or read again under new rules) with the feed's state, in one transaction."""
    if fetched is not None:
        # The live answer's vintage is its publication date (the snapshot's sidecar dated the snapshot).
        spec = dataclasses.replace(
            spec,
            source=dataclasses.replace(
                spec.source, published_on=fetched.date(), published_precision="day", url=public_url(config.fetch.url)
            ),
        )
    document, readable = feed_document(spec, config, result, settings)

    def bookkeeping(c: duckdb.DuckDBPyConnection) -> None:
        save_feed_state(c, spec.name, config.fetch.url, result, fetched)
        record_fingerprint(c, run_id, result.sha256, rules)

    with named_copy(readable, document.path.with_suffix(readable.suffix).name) as named:
        return extract_and_load(
            con, dataclasses.replace(spec, document=named), settings, catalog, run_id, document, also=bookkeeping
        )


def on_this_machine(url: str) -> bool:
    """A feed served on this machine (127.0.0.1, ::1, localhost) is fetched even offline."""
    return (urlsplit(url).hostname or "").lower() in ("127.0.0.1", "::1", "localhost")


def record_unreachable(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    config: FeedConfig,
    reason: str,
    rules: str,
) -> PipelineResult:
    """The feed gave no answer: its last data stays; if there is none yet, the bundled snapshot is loaded.

    When the rules changed since the last load (a native series mapped anew in the catalog), what was loaded last
    (the last answer, kept in the raw store, or the snapshot) is read again under them.
    """
    source_id = spec.source.source_id
    loaded = con.execute("SELECT sha256 FROM sources WHERE source_id = ?", [source_id]).fetchone()
    snapshot = read_document(config.snapshot, spec.source) if config.snapshot is not None else None
    stale_rules = loaded is not None and last_rules(con, spec.name) != rules
    if stale_rules:
        state = read_feed_state(con, spec.name, config.fetch.url)
        stored = stored_answer(con, spec, settings, config, state)
        if stored is not None and state is not None:
            # No answer came: the state keeps the last HTTP status the feed gave.
            status = scalar(con, "SELECT COALESCE(MAX(http_status), 0) FROM feed_state WHERE pipeline = ?", [spec.name])
            answer = FetchResult("new", stored, None, state.etag, state.last_modified, state.sha256, status, 0, "")
            vintage = read_feed_vintage(con, spec.name, config.fetch.url)
            result = load_answer(con, spec, settings, catalog, run_id, config, answer, vintage, rules)
            return _unreachable(con, spec, run_id, result, f"{reason}; read its last answer again under new rules")
    if snapshot is None or (loaded is not None and not (stale_rules and loaded[0] == snapshot.sha256)):
        kept = "last data kept" if loaded else "nothing loaded yet, and the spec has no snapshot"
        write_transaction(
            con, lambda: finish_run(con, run_id, status="unreachable", error=reason), what=f"pipeline {spec.name}"
        )
        return PipelineResult(spec.name, run_id, "unreachable", subject=f"unreachable: {reason}; {kept}")
    store_raw(settings.raw_dir, snapshot)
    result = extract_and_load(
        con,
        dataclasses.replace(spec, document=config.snapshot),
        settings,
        catalog,
        run_id,
        snapshot,
        also=lambda c: record_fingerprint(c, run_id, snapshot.sha256, rules),
    )
    return _unreachable(con, spec, run_id, result, f"{reason}; loaded the bundled snapshot {snapshot.path.name}")


def _unreachable(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, run_id: str, result: PipelineResult, what: str
) -> PipelineResult:
    """A load done while the feed gave no answer: the run is `unreachable` (with what was loaded) once it succeeded."""
    if result.status != "success":
        return result
    reason = what.split("; ", 1)[0]
    write_transaction(
        con,
        lambda: finish_run(con, run_id, status="unreachable", counts=result.counts, error=reason),
        what=f"pipeline {spec.name}",
    )
    return dataclasses.replace(result, status="unreachable", subject=f"unreachable: {what}")

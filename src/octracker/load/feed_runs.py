"""Pipelines that read an HTTP feed: the spec's `[feed]` table, the state kept per pipeline, and one run.

An unchanged feed costs one request (a conditional GET answered 304, or the same content hash) and loads
nothing. The state (validators, content hash) is saved only with a successful load, so a refused body is
fetched again on the next run rather than hidden behind a 304.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import duckdb
import httpx
import polars as pl

from octracker.content.catalog import Catalog
from octracker.content.documents import Document, named_copy, sha256_hex, store_raw
from octracker.content.feed_specs import FeedConfig, read_feed_table
from octracker.content.specs import PipelineSpec
from octracker.errors import InputRefused
from octracker.extracts import Problem
from octracker.httpclient import new_client, public_url
from octracker.load.feeds import FeedRefused, FeedState, FetchResult, fetch_feed
from octracker.load.loading import PipelineResult, extract_and_load, record_failure, refuse_document
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


def save_feed_state(con: duckdb.DuckDBPyConnection, pipeline: str, url: str, result: FetchResult) -> None:
    """Replace the pipeline's state with this fetch's (the caller owns the transaction)."""
    now = utc_now()
    changed = result.status == "new"
    previous = con.execute(
        "SELECT changed_at FROM feed_state WHERE pipeline = ? AND url = ?", [pipeline, public_url(url)]
    ).fetchone()
    con.execute("DELETE FROM feed_state WHERE pipeline = ?", [pipeline])
    con.execute(
        "INSERT INTO feed_state (pipeline, url, etag, last_modified, sha256, http_status, checked_at, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pipeline,
            public_url(url),
            result.etag,
            result.last_modified,
            result.sha256,
            result.http_status,
            now,
            now if changed or previous is None else previous[0],
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


def run_feed_pipeline(
    con: duckdb.DuckDBPyConnection,
    spec: PipelineSpec,
    settings: Settings,
    catalog: Catalog,
    *,
    trigger: str = "manual",
    client: httpx.Client | None = None,
) -> PipelineResult:
    """Fetch the spec's feed; load it when its content is new, else record an unchanged run."""
    run_id = start_run(con, spec.name, trigger)
    spec = (
        spec
        if spec.source.source_id
        else dataclasses.replace(spec, source=dataclasses.replace(spec.source, source_id=spec.name))
    )
    try:
        config = read_feed_table(spec.feed or {}, str(spec.path))
        state = read_feed_state(con, spec.name, config.fetch.url)
        # A client passed in belongs to the caller (tests, a batch of feeds); one made here is closed here.
        with contextlib.nullcontext(client) if client else new_client() as http:
            result = fetch_feed(http, config.fetch, state)
        if result.status != "new":

            def write() -> None:
                save_feed_state(con, spec.name, config.fetch.url, result)
                finish_run(con, run_id, status="success")

            write_transaction(con, write, what=f"pipeline {spec.name}")
            why = "not modified (304)" if result.status == "not_modified" else "same content as last loaded"
            return PipelineResult(spec.name, run_id, "unchanged", subject=f"feed {why}")
        document, readable = feed_document(spec, config, result, settings)
        with named_copy(readable, document.path.with_suffix(readable.suffix).name) as named:
            return extract_and_load(
                con,
                dataclasses.replace(spec, document=named),
                settings,
                catalog,
                run_id,
                document,
                also=lambda c: save_feed_state(c, spec.name, config.fetch.url, result),
            )
    except FeedRefused as exc:
        return refuse_document(con, spec, run_id, None, [Problem("feed_refused", str(exc), exc.url)])
    except InputRefused as exc:
        return refuse_document(con, spec, run_id, None, [Problem("refused", str(exc), "")])
    except Exception as exc:  # noqa: BLE001 - recorded as a failed run; the other pipelines go on
        return record_failure(con, spec, run_id, exc)

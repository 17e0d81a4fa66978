"""Feeds of statistics publishers: a CBS table fetched as its OData answers, and each answer's vintage.

Every request goes through `fetch_feed` (bounded bodies, checked redirects, retries). A CBS table is fetched
cheaply first: its `TableInfos` (v3) or `Properties` (v4) answer says when it was last modified; when that is
the vintage already loaded, nothing more is asked. Otherwise the data answer is fetched page by page,
following `odata.nextLink` (10,000 rows a page), with the metadata the reader needs, and bundled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from urllib.parse import urlsplit, urlunsplit

import httpx

from octracker.content.catalog import Catalog
from octracker.content.documents import sha256_hex
from octracker.content.feed_specs import FeedConfig
from octracker.errors import InputRefused
from octracker.extract.publishers import cbs_odata
from octracker.extract.publishers.kinds import PUBLISHER_KINDS
from octracker.load.feeds import FeedState, FetchResult, fetch_feed

#: Pages of one answer followed at most (a CBS table of 100 million rows); a loop of links stops here.
MAX_PAGES = 10_000


def publisher_vintage(fmt: str, content: bytes, name: str, catalog: Catalog) -> dt.datetime | None:
    """When the publisher last updated the table in this answer (None when the answer does not say), read
    without reading the table where the format allows: an answer of a vintage already loaded is never parsed."""
    updated = PUBLISHER_KINDS[fmt].vintage(content, name=name, catalog=catalog)
    if updated is None:
        return None
    return updated.astimezone(dt.UTC).replace(tzinfo=None)


def fetch_cbs_table(
    http: httpx.Client, config: FeedConfig, state: FeedState | None, vintage: dt.datetime | None
) -> tuple[FetchResult, dt.datetime | None]:
    """The table's answers as one bundle, or an "unchanged" result when its Modified time is `vintage`."""
    base = config.fetch.url if config.fetch.url.endswith("/") else config.fetch.url + "/"
    v4 = "odata4" in (urlsplit(base).hostname or "") or "/CBS/" in urlsplit(base).path
    info_endpoint = "Properties" if v4 else "TableInfos"
    info_result = _get(http, config, base + _json(info_endpoint, v4))
    info = _body(info_result, info_endpoint)
    row = info if v4 else (info.get("value") or [{}])[0]
    modified = cbs_odata.parse_modified(row.get("ObservationsModified") or row.get("Modified"))
    modified_naive = modified.replace(tzinfo=None) if modified else None
    if modified_naive is not None and modified_naive == vintage:
        return dataclasses.replace(
            info_result, status="unchanged", content=None, sha256=state.sha256 if state else None
        ), modified_naive
    answers: dict[str, list[bytes]] = {info_endpoint: [info_result.content or b""]}
    if v4:
        dimensions_result = _get(http, config, base + _json("Dimensions", v4))
        answers["Dimensions"] = [dimensions_result.content or b""]
        dimensions = _body(dimensions_result, "Dimensions").get("value", [])
        time_keys = [d["Identifier"] for d in dimensions if d.get("Kind") == "TimeDimension"]
        for endpoint in ["MeasureCodes", *(f"{k}Codes" for k in time_keys)]:
            answers[endpoint] = _pages(http, config, base + _json(endpoint, v4), endpoint)
        answers["Observations"] = _pages(http, config, base + _json("Observations", v4), "Observations")
    else:
        properties = _pages(http, config, base + _json("DataProperties", v4), "DataProperties")
        answers["DataProperties"] = properties
        rows = [r for page in properties for r in json.loads(page).get("value", [])]
        for key in (r["Key"] for r in rows if r.get("Type") == "TimeDimension"):
            answers[key] = _pages(http, config, base + _json(key, v4), key)
        answers["TypedDataSet"] = _pages(http, config, base + _json("TypedDataSet", v4), "TypedDataSet")
    bundle = cbs_odata.bundle_answers(answers)
    digest = sha256_hex(bundle)
    same = state is not None and state.sha256 == digest
    result = dataclasses.replace(
        info_result,
        status="unchanged" if same else "new",
        content=None if same else bundle,
        sha256=digest,
        content_type="application/zip",
    )
    return result, modified_naive


def _json(endpoint: str, v4: bool) -> str:
    return endpoint if v4 else f"{endpoint}?$format=json"


def _get(http: httpx.Client, config: FeedConfig, url: str) -> FetchResult:
    return fetch_feed(http, dataclasses.replace(config.fetch, url=url), None)


def _body(result: FetchResult, endpoint: str) -> dict:
    try:
        body = json.loads(result.content or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputRefused(f"CBS answer {endpoint} ({result.final_url}) is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InputRefused(f"CBS answer {endpoint} ({result.final_url}) is not a JSON object")
    return body


def _pages(http: httpx.Client, config: FeedConfig, url: str, endpoint: str) -> list[bytes]:
    """Every page of an answer, following `odata.nextLink` / `@odata.nextLink` (same scheme and host only)."""
    pages: list[bytes] = []
    origin = urlsplit(url)
    while url:
        if len(pages) >= MAX_PAGES:
            raise InputRefused(f"CBS answer {endpoint}: more than {MAX_PAGES} pages; the links loop")
        result = _get(http, config, url)
        pages.append(result.content or b"")
        following = _body(result, endpoint)
        link = following.get("odata.nextLink") or following.get("@odata.nextLink")
        if not link:
            break
        target = urlsplit(link)
        if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
            # CBS writes its public address in the link; the next page is asked where this one was.
            link = urlunsplit((origin.scheme, origin.netloc, target.path, target.query, ""))
        url = link
    return pages

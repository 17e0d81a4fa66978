"""Fetch one HTTP feed politely and safely: conditional GET, bounded body, checked redirects, retries."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from octracker import __version__
from octracker.content.feed_specs import FeedSpec
from octracker.errors import InputRefused, PipelineFailed, SpecError
from octracker.httpclient import (
    backoff_delay,
    deadline,
    is_retry_status,
    parse_retry_after,
    public_url,
    redact,
    redact_text,
)

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
# A server may ask for hours; a scheduled refresh would rather fail and try on its next run.
RETRY_AFTER_MAX_S = 120.0

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Only failures a second try can cure; a malformed request (LocalProtocolError) would fail again.
_RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class FeedRefused(InputRefused):
    """The feed answered with something octracker will not load (type, size, insecure redirect)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class FeedTooLarge(FeedRefused):
    """The feed's body is larger than the pipeline's `max_bytes`."""

    def __init__(self, message: str, *, url: str, limit: int, bytes_read: int) -> None:
        super().__init__(message, url=url)
        self.limit = limit
        self.bytes_read = bytes_read


class FeedFailed(PipelineFailed):
    """The feed could not be fetched (HTTP error, network, retries exhausted)."""

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class FeedState:
    """What the caller kept from the last successful fetch, to ask only for changes."""

    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one fetch; `content` is set only when `status` is "new".

    `final_url` has no userinfo and no query (`public_url`), so it can be stored with the data.
    """

    status: Literal["not_modified", "unchanged", "new"]
    content: bytes | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    http_status: int
    attempts: int
    final_url: str

    def to_state(self) -> FeedState:
        """The state to persist for the next conditional fetch."""
        return FeedState(etag=self.etag, last_modified=self.last_modified, sha256=self.sha256)


class _Retryable(Exception):
    """One attempt failed in a way worth trying again; internal to fetch_feed."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def fetch_feed(
    client: httpx.Client,
    spec: FeedSpec,
    state: FeedState | None,
    *,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], bool | None] = time.sleep,
) -> FetchResult:
    """Fetch `spec.url` once (with retries), returning "not_modified", "unchanged" or "new" content.

    A `sleep` that returns True (a stop event's `wait`) ends the retries: octracker is stopping.
    """
    url = _parse_url(spec.url)
    _check_hop(url, spec, origin=None)
    if url.userinfo:
        raise SpecError(
            f"feed {redact(url)}: the url carries credentials; move them to an environment variable "
            "and name it in auth_env"
        )
    headers = _request_headers(spec, state, environ)

    last: _Retryable | None = None
    for attempt in range(1, spec.max_attempts + 1):
        try:
            return _fetch_once(client, spec, url, headers, state, attempt)
        except _Retryable as exc:
            last = exc
        if attempt < spec.max_attempts:
            delay = last.retry_after if last.retry_after is not None else _backoff(attempt)
            delay = min(delay, RETRY_AFTER_MAX_S)
            log.warning(
                "feed %s: attempt %d of %d failed (%s); retrying in %.1f s",
                redact(url),
                attempt,
                spec.max_attempts,
                last.reason,
                delay,
            )
            if sleep(delay):
                raise FeedFailed(
                    f"feed {redact(url)}: stopped after attempt {attempt} of {spec.max_attempts} ({last.reason}): "
                    "octracker is stopping; the next refresh will try again",
                    url=redact(url),
                    status=last.status,
                    attempts=attempt,
                )
    assert last is not None
    raise FeedFailed(
        f"feed {redact(url)}: gave up after {spec.max_attempts} attempts; the last one ended with "
        f"{last.reason}; the next refresh will try again, check the feed if this persists",
        url=redact(url),
        status=last.status,
        attempts=spec.max_attempts,
    )


def _fetch_once(
    client: httpx.Client,
    spec: FeedSpec,
    url: httpx.URL,
    headers: dict[str, str],
    state: FeedState | None,
    attempt: int,
) -> FetchResult:
    """One attempt within `timeout_s` in all (headers, redirects and body): a trickling server is cut off."""
    limit = None
    try:
        with deadline(spec.timeout_s) as limit:
            return _follow(client, spec, url, headers, state, attempt)
    except _Retryable as exc:
        if limit is not None and limit.passed():
            raise _Retryable(
                f"no complete answer within the overall limit of {spec.timeout_s:g} s (timeout_s)"
            ) from exc
        raise


def _follow(
    client: httpx.Client,
    spec: FeedSpec,
    url: httpx.URL,
    headers: dict[str, str],
    state: FeedState | None,
    attempt: int,
) -> FetchResult:
    """Follow up to MAX_REDIRECTS checked hops, then settle the final response."""
    hop_headers = dict(headers)
    timeout = httpx.Timeout(spec.timeout_s)
    for _ in range(MAX_REDIRECTS + 1):
        request = client.build_request("GET", url, headers=hop_headers, timeout=timeout)
        try:
            # auth=None: credentials come from auth_env only, never from a URL or the client.
            response = client.send(request, stream=True, auth=None, follow_redirects=False)
            try:
                if response.status_code not in _REDIRECT_STATUSES:
                    conditional = _is_conditional(headers)
                    return _settle(response, spec, url, state, attempt, sent_conditional=conditional)
                target = _redirect_target(response, url, spec, attempt)
            finally:
                response.close()
        except _RETRY_ERRORS as exc:
            raise _Retryable(f"{type(exc).__name__}: {redact_text(str(exc))}") from exc
        if _origin(target) != _origin(url):
            # Never hand the feed's credentials to another host (or to the same host over http).
            hop_headers.pop("Authorization", None)
        log.debug("feed %s: redirected (%d) to %s", redact(url), response.status_code, redact(target))
        url = target
    raise FeedFailed(
        f"feed {redact(spec.url)}: more than {MAX_REDIRECTS} redirects (last to {redact(url)}); "
        "point the pipeline spec at the final url",
        url=redact(spec.url),
        status=response.status_code,
        attempts=attempt,
    )


def _settle(
    response: httpx.Response,
    spec: FeedSpec,
    url: httpx.URL,
    state: FeedState | None,
    attempt: int,
    *,
    sent_conditional: bool,
) -> FetchResult:
    """Turn a non-redirect response into a result, a retry, or an error."""
    status = response.status_code
    where = redact(url)
    if status == 304:
        if not sent_conditional or state is None:
            raise FeedFailed(
                f"feed {where}: answered 304 Not Modified to a request without validators; "
                "the server is misbehaving, report it to the feed's publisher",
                url=where,
                status=status,
                attempts=attempt,
            )
        return FetchResult(
            status="not_modified",
            content=None,
            content_type=None,
            etag=response.headers.get("etag", state.etag),
            last_modified=response.headers.get("last-modified", state.last_modified),
            sha256=state.sha256,
            http_status=status,
            attempts=attempt,
            final_url=public_url(url),
        )
    if is_retry_status(status):
        retry_after = response.headers.get("retry-after")
        raise _Retryable(
            _describe_status(status),
            status=status,
            retry_after=parse_retry_after(retry_after, time.time()) if retry_after is not None else None,
        )
    if status != 200:
        raise FeedFailed(
            f"feed {where}: {_describe_status(status)}; {_status_hint(status, spec)}",
            url=where,
            status=status,
            attempts=attempt,
        )

    content_type = _media_type(response)
    if content_type not in spec.accept:
        raise FeedRefused(
            f"feed {where}: answered with content type {content_type or '(none)'!r}, which is not one of "
            f"{', '.join(spec.accept)}; check the url, or add the type to accept in the pipeline spec",
            url=where,
        )
    content = _read_body(response, spec, where, attempt)
    sha256 = hashlib.sha256(content).hexdigest()
    unchanged = state is not None and state.sha256 == sha256
    log.info("feed %s: %s, %d bytes", where, "unchanged" if unchanged else "new content", len(content))
    return FetchResult(
        status="unchanged" if unchanged else "new",
        content=None if unchanged else content,
        content_type=content_type,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        sha256=sha256,
        http_status=status,
        attempts=attempt,
        final_url=public_url(url),
    )


def _read_body(response: httpx.Response, spec: FeedSpec, where: str, attempt: int) -> bytes:
    """Stream the body, refusing as soon as it would pass `max_bytes` (decoded size)."""
    limit = spec.max_bytes

    def too_large(what: str, bytes_read: int) -> FeedTooLarge:
        return FeedTooLarge(
            f"feed {where}: {what} is larger than the limit of {limit} bytes; "
            "raise max_bytes in the pipeline spec if this is expected",
            url=where,
            limit=limit,
            bytes_read=bytes_read,
        )

    declared = _content_length(response)
    if declared is not None and declared > limit:
        raise too_large(f"the response (Content-Length: {declared})", 0)
    decoder = _BoundedDecoder.for_response(response, where, attempt)
    try:
        chunks = list(_bounded_chunks(response, decoder, limit, too_large))
    except _RETRY_ERRORS as exc:
        raise _Retryable(f"the body broke off ({type(exc).__name__})", status=response.status_code) from exc
    if not decoder.finished:
        raise _Retryable("a gzip body that ended early", status=response.status_code)
    return b"".join(chunks)


def _bounded_chunks(response: httpx.Response, decoder: _BoundedDecoder, limit: int, too_large) -> Iterator[bytes]:
    """The decoded body chunk by chunk, refusing as soon as it would pass `limit` bytes."""
    size = 0
    for raw in response.iter_raw():
        chunk = decoder.decode(raw, room=limit - size)
        if size + len(chunk) > limit:
            raise too_large("the response", size + len(chunk))
        size += len(chunk)
        yield chunk


class _BoundedDecoder:
    """Undoes gzip chunk by chunk without producing more than the caller has room for.

    httpx's own decoders inflate each network chunk whole, so a small gzip bomb could blow far
    past max_bytes in memory before any check; zlib's max_length caps the output instead.
    """

    def __init__(self, inflater: zlib._Decompress | None) -> None:
        self._inflater = inflater

    @classmethod
    def for_response(cls, response: httpx.Response, where: str, attempt: int) -> _BoundedDecoder:
        codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if not codings:
            return cls(None)
        if codings in (["gzip"], ["x-gzip"]):
            return cls(zlib.decompressobj(wbits=16 + zlib.MAX_WBITS))
        # We only ever offer gzip (Accept-Encoding), so anything else is the server ignoring us.
        raise FeedFailed(
            f"feed {where}: answered with Content-Encoding {', '.join(codings)!r} although only gzip "
            "was offered; report it to the feed's publisher",
            url=where,
            status=response.status_code,
            attempts=attempt,
        )

    def decode(self, raw: bytes, *, room: int) -> bytes:
        """Decode one network chunk; more than `room` bytes back means the limit is passed."""
        if self._inflater is None:
            return raw
        try:
            # At most room + 1 bytes: enough to know the limit is passed, never more.
            return self._inflater.decompress(raw, room + 1)
        except zlib.error as exc:
            raise _Retryable(f"a corrupt gzip body ({exc})") from exc

    @property
    def finished(self) -> bool:
        return self._inflater is None or self._inflater.eof


def _parse_url(raw: str) -> httpx.URL:
    """Parse the spec's url, refusing it with a redacted message when it is malformed."""
    try:
        return httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise SpecError(
            f"feed {redact(raw)}: the url is not valid ({type(exc).__name__}); fix it in the pipeline spec"
        ) from None


def _check_hop(url: httpx.URL, spec: FeedSpec, *, origin: httpx.URL | None) -> None:
    """Require https, or http to a host the spec trusts, for the first request and every redirect."""
    host = url.host.lower()
    if url.scheme == "https" and host:
        return
    if url.scheme == "http" and host and host in spec.allow_http_hosts:
        return
    error: type[InputRefused]
    if origin is None:
        prefix, error = f"feed {redact(url)}: ", SpecError
    else:
        prefix, error = f"feed {redact(origin)} redirected to {redact(url)}: ", FeedRefused
    if url.scheme == "http" and host:
        reason = (
            f"plain http is not allowed for host {host!r}; use https, or add {host!r} to "
            "allow_http_hosts in the pipeline spec if that host is trusted"
        )
    else:
        scheme = url.scheme or "a url without scheme"
        reason = f"only https (or http to an allowed host) is fetched, not {scheme}"
    if error is SpecError:
        raise SpecError(prefix + reason)
    raise FeedRefused(prefix + reason, url=redact(url))


def _redirect_target(response: httpx.Response, url: httpx.URL, spec: FeedSpec, attempt: int) -> httpx.URL:
    """The checked next hop of a redirect, without any userinfo the Location carried."""
    location = response.headers.get("location")
    if not location:
        raise FeedFailed(
            f"feed {redact(url)}: redirect {response.status_code} without a Location header; "
            "point the pipeline spec at the feed's current url",
            url=redact(url),
            status=response.status_code,
            attempts=attempt,
        )
    try:
        target = url.join(location)
    except httpx.InvalidURL:
        raise FeedRefused(f"feed {redact(url)}: redirected to an invalid url", url=redact(url)) from None
    _check_hop(target, spec, origin=url)
    # A Location with user:password@ would make httpx send basic auth taken from the server's say-so.
    return target.copy_with(userinfo=b"") if target.userinfo else target


def _request_headers(spec: FeedSpec, state: FeedState | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Static headers, identification, content negotiation, validators and credentials."""
    headers = {
        "User-Agent": f"octracker/{__version__}",
        "Accept": ", ".join(spec.accept),
        # Only gzip, because _BoundedDecoder can inflate it within the size limit.
        "Accept-Encoding": "gzip",
    }
    headers.update(spec.headers)
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    if spec.auth_env:
        headers["Authorization"] = _authorization(spec, environ)
    return headers


def _authorization(spec: FeedSpec, environ: Mapping[str, str]) -> str:
    """The Authorization value built from `$auth_env`: basic for `user:password`, else bearer."""
    secret = (environ.get(spec.auth_env or "") or "").strip()
    if not secret:
        raise FeedFailed(
            f"feed {redact(spec.url)}: credentials are expected in ${spec.auth_env}, which is not set "
            "or empty; set it in the environment of the refresh",
            url=redact(spec.url),
            status=None,
            attempts=0,
        )
    if ":" in secret:
        return "Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")
    return f"Bearer {secret}"


def _is_conditional(headers: Mapping[str, str]) -> bool:
    return "If-None-Match" in headers or "If-Modified-Since" in headers


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default_port)


def _media_type(response: httpx.Response) -> str:
    """The content type without parameters (`text/csv; charset=utf-8` → `text/csv`), lower case."""
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _content_length(response: httpx.Response) -> int | None:
    """The declared body size, or None when absent or unparseable (the streamed count still guards)."""
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 s, 2 s, 4 s, … capped)."""
    return backoff_delay(attempt, base_s=BACKOFF_FIRST_S, max_s=BACKOFF_MAX_S)


def _describe_status(status: int) -> str:
    phrase = httpx.codes.get_reason_phrase(status)
    return f"HTTP {status} {phrase}".rstrip()


def _status_hint(status: int, spec: FeedSpec) -> str:
    """The next move for a status that retrying will not fix."""
    if status in (401, 403):
        if spec.auth_env:
            return f"check the credentials in ${spec.auth_env}"
        return "the feed needs credentials: set auth_env in the pipeline spec and the secret in that variable"
    if status in (404, 410):
        return "check the url in the pipeline spec; the feed may have moved"
    if 300 <= status < 400:
        return "the server answered with a redirect octracker cannot follow; point the spec at the final url"
    return "check the url, headers and accept in the pipeline spec"

"""HTTP as octracker speaks it to feeds and webhooks: one policy for both.

- Every request runs under an overall deadline (`deadline`): each socket read, write and connect waits at most
  what is left of it, so a server that trickles its headers or body one byte at a time is cut off when the
  deadline passes, not kept alive for ever by per-read timeouts. Clients come from `new_client`.
- Retries: `backoff_delay` (exponential, capped, optional jitter), `parse_retry_after` (delta-seconds or
  HTTP-date), and the statuses worth another try (`RETRY_STATUSES`).
- URLs in messages and logs: `redact` keeps scheme, host and port only; userinfo, path, query and fragment
  often carry tokens. `public_url` keeps the path too, for the provenance stored with a feed's data. The HTTP
  libraries' own log records pass through the same redaction.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # httpx and httpcore load only where a request is made, not for a URL's redaction
    import httpx

#: 408, 425 and 429 say "not now" rather than "never"; every 5xx may be transient.
RETRY_STATUSES = frozenset({408, 425, 429})

_local = threading.local()


def is_retry_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status < 600


# --- Deadlines -----------------------------------------------------------------------------------


class Deadline:
    """The end of a `deadline` block, to tell afterwards whether a timeout was the overall limit."""

    def __init__(self, at: float) -> None:
        self.at = at

    def passed(self) -> bool:
        # A socket's timeout can wake a little before the instant it was computed for.
        return time.monotonic() >= self.at - 0.05


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Everything sent or received by this thread's clients inside the block ends within `seconds`.

    Nested deadlines keep the earlier one. Past the deadline, a read or write raises httpx.ReadTimeout
    (or WriteTimeout/ConnectTimeout); the yielded `Deadline` tells such a timeout from a per-read one.
    """
    outer = getattr(_local, "at", None)
    at = time.monotonic() + seconds
    _local.at = at if outer is None else min(outer, at)
    try:
        yield Deadline(_local.at)
    finally:
        _local.at = outer


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the overall time limit of the request passed")
    return left if timeout is None else min(timeout, left)


@functools.cache
def _deadline_backend_class() -> type:
    """The network backend whose every stream is bounded by the current deadline (built on first use)."""
    import httpcore

    class _DeadlineStream(httpcore.NetworkStream):
        """A connection whose every read and write waits no longer than the current deadline allows."""

        def __init__(self, stream: httpcore.NetworkStream) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
            return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class _DeadlineBackend(httpcore.NetworkBackend):
        """The default network backend, with every stream it opens bounded by the current deadline."""

        def __init__(self, inner: httpcore.NetworkBackend) -> None:
            self._inner = inner

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.NetworkStream:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
            return _DeadlineStream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
        ) -> httpcore.NetworkStream:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
            return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    return _DeadlineBackend


def new_client(**options: Any) -> httpx.Client:
    """An httpx client whose requests obey `deadline`; options as for httpx.Client (trust_env, headers, ...)."""
    import httpx

    transport = httpx.HTTPTransport(trust_env=options.get("trust_env", True))
    pool = transport._pool  # noqa: SLF001 - httpx builds the pool without a way to pass a network backend
    pool._network_backend = _deadline_backend_class()(pool._network_backend)  # noqa: SLF001
    return httpx.Client(transport=transport, **options)


# --- Retries -------------------------------------------------------------------------------------


def random_jitter(delay: float) -> float:
    """Up to 10% extra on a backoff delay, so many senders failing together do not retry in step."""
    return random.uniform(0, 0.1 * delay)


def backoff_delay(
    attempt: int, *, base_s: float, max_s: float, jitter: Callable[[float], float] | None = None
) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped, plus jitter."""
    exponent = min(attempt - 1, 64)  # min() before the power: a large attempt number must not overflow
    capped = min(max_s, base_s * 2.0**exponent)
    return capped + (jitter(capped) if jitter is not None else 0.0)


_DELTA_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or HTTP-date; `now` in epoch seconds), or None."""
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        # Past 18 digits it is longer than any cap anyway, and int() could refuse a huge one.
        return float(int(value)) if len(value) <= 18 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # HTTP-dates are always GMT; a zone-less parse means the sender wrote "-0000".
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# --- URLs ----------------------------------------------------------------------------------------


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host, and a port only if it is a number: one a client can send to."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def redact(url: str | httpx.URL) -> str:
    """Scheme, host and port only (`https://hooks.example.org/…`), safe for messages and logs."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or not host:
        # Without a scheme and host there is no safe part to show; the whole string may be a token.
        return "<unparseable url>"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
    hidden = parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment
    return shown + "/…" if hidden else shown


def public_url(url: str | httpx.URL) -> str:
    """The URL without userinfo, query or fragment: what a feed's data records as where it came from."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable url>"
    host = parts.netloc.rpartition("@")[2]
    if not parts.scheme:
        return "<unparseable url>"
    return f"{parts.scheme}://{host}{parts.path}"


_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def redact_text(text: str) -> str:
    """Every URL in a text cut down to scheme, host and port."""
    return _URL.sub(lambda m: redact(m.group(0)), text)


class RedactUrls(logging.Filter):
    """Cut every URL in a log record down to scheme, host and port."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


#: httpx logs every request's full URL (at INFO) and httpcore its traffic (at DEBUG, with --debug).
HTTP_LOGGERS = ("httpx", "httpcore.http11", "httpcore.connection", "httpcore.proxy")
_FILTER = RedactUrls()
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)

"""Signing and delivery of one message to one webhook, following the Standard Webhooks scheme."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import httpx

from octracker import __version__
from octracker.errors import UsageError
from octracker.httpclient import backoff_delay as _backoff_delay
from octracker.httpclient import deadline, is_http_url, is_retry_status, parse_retry_after, random_jitter
from octracker.httpclient import redact as redact_url

log = logging.getLogger("octracker.alerts.webhooks")

URL_ENV = "OCTRACKER_WEBHOOK_URL"
SECRET_ENV = "OCTRACKER_WEBHOOK_SECRET"
SECRET_PREFIX = "whsec_"
USER_AGENT = f"octracker/{__version__}"

# Enough to drain a normal acknowledgement so the connection can be reused; a receiver that sends
# more gets its connection closed instead of our memory.
MAX_RESPONSE_BYTES = 64 * 1024
#: Redirects followed, each to the URL's own origin (scheme, host, port) and keeping the method and body.
MAX_REDIRECTS = 3
# Python refuses to parse ints past ~4300 digits; a hostile header must not turn into an exception.
_TIMESTAMP = re.compile(r"[0-9]{1,18}")
# The id travels as a header value, so whitespace and control characters would corrupt the request.
_MSG_ID = re.compile(r"[\x21-\x7e]{1,255}")

Outcome = Literal["delivered", "retry_later", "rejected"]


class WebhookConfigError(UsageError):
    """A webhook URL, secret, message id or retry policy is unusable; fix the setting and run again."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one message is retried within one call."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 10.0
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise WebhookConfigError(f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}")
        if self.timeout_s <= 0:
            raise WebhookConfigError(f"RetryPolicy.timeout_s must be positive, got {self.timeout_s}")
        for name in ("base_delay_s", "max_delay_s", "max_retry_after_s"):
            if getattr(self, name) < 0:
                raise WebhookConfigError(f"RetryPolicy.{name} must not be negative, got {getattr(self, name)}")


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message: the outcome, and when to try again if it is still pending.

    `retry_later` means transient failures used up every attempt (keep the message pending);
    `rejected` means the receiver refused it for good (a 4xx other than 408/425/429, or a redirect).
    """

    outcome: Outcome
    attempts: int
    last_status: int | None = None
    error: str | None = None
    next_attempt_after: float | None = None


# --- Secrets and signatures -------------------------------------------------------------------


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for.

    A `whsec_`-prefixed secret (the Standard Webhooks form) is the base64 of the key; any other
    string is used as its UTF-8 bytes. The secret itself never appears in an error message.
    """
    if not secret:
        raise WebhookConfigError(f"the webhook secret is empty; set {SECRET_ENV} or leave it unset to send unsigned")
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookConfigError(
            f"the webhook secret starts with {SECRET_PREFIX} but the rest is not valid base64; "
            "copy the secret exactly as the receiver issued it"
        ) from None
    if not key:
        raise WebhookConfigError(f"the webhook secret is {SECRET_PREFIX} with no key after it")
    return key


def sign_payload(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `"{msg_id}.{timestamp}." + body`; secret as in `secret_key`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True when one of the `webhook-signature` entries matches and the timestamp is within tolerance.

    Headers are matched ignoring case; a missing or malformed header is simply a failed check.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not signatures or not _TIMESTAMP.fullmatch(timestamp.strip()):
        return False
    ts = int(timestamp)
    current = time.time() if now is None else now
    # Both directions: an old timestamp is a replay, a future one would extend the replay window.
    if abs(current - ts) > tolerance_s:
        return False
    expected = sign_payload(secret, msg_id, ts, body).encode()
    # Several signatures appear while a receiver rotates secrets; any one valid v1 entry suffices.
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split())


# --- URLs -----------------------------------------------------------------------------------


def check_webhook_url(url: str, *, where: str = "webhook URL") -> str:
    """The URL unchanged if it is an absolute http(s) URL with a host; otherwise a redacted error."""
    if not is_http_url(url):
        raise WebhookConfigError(
            f"{where} ({redact_url(url)}) is not an http(s) URL with a host; "
            f"set {URL_ENV} to URLs like https://hooks.example.org/path, separated by spaces"
        )
    return url


def webhook_urls_from_env(environ: Mapping[str, str]) -> list[str]:
    """The webhook URLs in `OCTRACKER_WEBHOOK_URL` (space-separated), duplicates dropped, order kept."""
    urls: list[str] = []
    for n, url in enumerate(environ.get(URL_ENV, "").split(), start=1):
        check_webhook_url(url, where=f"{URL_ENV} entry {n}")
        if url not in urls:
            urls.append(url)
    return urls


def webhook_secret_from_env(environ: Mapping[str, str]) -> str | None:
    """The signing secret in `OCTRACKER_WEBHOOK_SECRET`, checked; None when unset or blank."""
    secret = environ.get(SECRET_ENV, "").strip()
    if not secret:
        return None
    secret_key(secret)
    return secret


# --- Delivery -------------------------------------------------------------------------------


def backoff_delay(policy: RetryPolicy, attempt: int, *, jitter: Callable[[float], float] = random_jitter) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped, plus jitter."""
    return _backoff_delay(attempt, base_s=policy.base_delay_s, max_s=policy.max_delay_s, jitter=jitter)


def build_headers(msg_id: str, body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
    """The request headers for one attempt; signed only when a secret is set."""
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret is not None:
        headers["webhook-signature"] = sign_payload(secret, msg_id, timestamp, body)
    return headers


def deliver_message(
    client: httpx.Client,
    url: str,
    *,
    msg_id: str,
    body: bytes,
    secret: str | None,
    policy: RetryPolicy,
    sleep: Callable[[float], bool | None] = time.sleep,
    clock: Callable[[], float] = time.time,
    jitter: Callable[[float], float] = random_jitter,
) -> DeliveryResult:
    """POST one message, retrying transient failures; never raises for anything the receiver does.

    Each attempt ends within `policy.timeout_s` in all, however slowly the receiver answers. A `sleep` that
    returns True (as `threading.Event.wait` does once the event is set) stops the retries: the message is left
    for a later call, as when its attempts are used up.
    """
    check_webhook_url(url)
    if not _MSG_ID.fullmatch(msg_id):
        raise WebhookConfigError(
            f"webhook message id {msg_id[:40]!r} must be 1-255 visible ASCII characters without spaces"
        )
    if secret is not None:
        secret_key(secret)  # a bad secret is a setting to fix, not a delivery failure to retry
    where = redact_url(url)
    for attempt in range(1, policy.max_attempts + 1):
        headers = build_headers(msg_id, body, secret, int(clock()))
        tried = _post_once(client, url, where, headers, body, policy.timeout_s, clock)
        progress = f"webhook {msg_id} attempt {attempt}/{policy.max_attempts} to {where}"
        if tried.status is not None and 200 <= tried.status < 300:
            log.info("%s: status %d, delivered", progress, tried.status)
            return DeliveryResult("delivered", attempt, tried.status)
        if not tried.transient:
            log.warning("%s: %s, rejected (not retried)", progress, tried.error)
            return DeliveryResult("rejected", attempt, tried.status, tried.error)
        if tried.retry_after is not None:
            delay = min(tried.retry_after, policy.max_retry_after_s)
        else:
            delay = backoff_delay(policy, attempt, jitter=jitter)
        if attempt == policy.max_attempts:
            log.warning("%s: %s, attempts used up; next try after %.1fs", progress, tried.error, delay)
            return DeliveryResult("retry_later", attempt, tried.status, tried.error, clock() + delay)
        log.warning("%s: %s, retrying in %.1fs", progress, tried.error, delay)
        if sleep(delay):
            log.warning("%s: stopping; the message stays pending for the next send", progress)
            return DeliveryResult("retry_later", attempt, tried.status, tried.error, clock())
    raise AssertionError("unreachable: the loop returns on its last attempt")


class _Attempt(NamedTuple):
    """One POST as seen by the sender; `error` is already redacted."""

    status: int | None
    error: str | None
    transient: bool
    retry_after: float | None = None


def _post_once(
    client: httpx.Client,
    url: str,
    where: str,
    headers: dict[str, str],
    body: bytes,
    timeout_s: float,
    clock: Callable[[], float],
) -> _Attempt:
    """One POST (and its same-origin redirects) within `timeout_s` in all; failures become redacted errors."""
    limit = None
    try:
        with deadline(timeout_s) as limit:
            return _post_following(client, url, where, headers, body, timeout_s, clock)
    except httpx.TimeoutException as exc:
        if limit is not None and limit.passed():
            return _Attempt(None, f"no complete answer within the overall limit of {timeout_s:g}s", transient=True)
        return _Attempt(None, f"timed out after {timeout_s:g}s ({type(exc).__name__})", transient=True)
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        # The request itself could not be built or sent; sending it again would fail the same way.
        return _Attempt(None, f"request refused by httpx ({type(exc).__name__}: {_scrub(str(exc), url, where)})", False)
    except httpx.TransportError as exc:
        return _Attempt(None, f"connection failed ({type(exc).__name__}: {_scrub(str(exc), url, where)})", True)


def _post_following(
    client: httpx.Client,
    url: str,
    where: str,
    headers: dict[str, str],
    body: bytes,
    timeout_s: float,
    clock: Callable[[], float],
) -> _Attempt:
    target = httpx.URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        # Redirects are followed by hand, and only to the same origin: a signed payload must not be forwarded
        # to a host nobody configured.
        with client.stream(
            "POST",
            target,
            content=body,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        ) as response:
            status = response.status_code
            retry_after_header = response.headers.get("retry-after")
            location = response.headers.get("location")
            _drain_bounded(response, timeout_s)
        if status not in (307, 308) or not location:
            break
        try:
            following = target.join(location)
        except httpx.InvalidURL:
            break
        if _origin(following) != _origin(target):
            break
        log.info("webhook %s: %d to the same origin, following", where, status)
        target = following
    transient = is_retry_status(status)
    retry_after = None
    if retry_after_header is not None and transient:
        retry_after = parse_retry_after(retry_after_header, clock())
    # The reason phrase is the receiver's free text; it may echo the request path back at us.
    reason = _scrub(response.reason_phrase[:80], url, where)
    return _Attempt(status, _describe_status(status, reason), transient, retry_after)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host.lower(), url.port or {"http": 80, "https": 443}.get(url.scheme))


def _drain_bounded(response: httpx.Response, timeout_s: float) -> None:
    """Read at most MAX_RESPONSE_BYTES within about two timeouts; the status has already decided."""
    # iter_raw, not iter_bytes: a body that claims gzip but is garbage must not turn a 200 into an error,
    # and undecoded bytes cannot be a decompression bomb.
    deadline = time.monotonic() + timeout_s
    received = 0
    try:
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                break
    except httpx.HTTPError:
        # A truncated or stalled body after the status line changes nothing about the outcome.
        pass


def _describe_status(status: int, reason: str) -> str:
    text = f"status {status}" + (f" {reason}" if reason else "")
    if 300 <= status < 400:
        return text + f"; only 307/308 to the same host and port are followed, point {URL_ENV} at the final URL"
    return text


def _scrub(text: str, url: str, where: str) -> str:
    """An httpx message with every secret-bearing part of the URL replaced by its redacted form."""
    text = text.replace(url, where)
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    for piece in (parts.path, parts.query, parts.fragment, parts.username, parts.password):
        if piece and len(piece) > 1:
            text = text.replace(piece, "…")
    return text

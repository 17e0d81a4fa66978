"""fetch_feed against a real HTTP server on 127.0.0.1: validators, retries, limits, safety rules."""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from feed_server import FeedServer, Reply
from octracker.content.feed_specs import FeedSpec
from octracker.errors import InputRefused, PipelineFailed
from octracker.httpclient import parse_retry_after, public_url, redact
from octracker.load.feeds import (
    RETRY_AFTER_MAX_S,
    FeedFailed,
    FeedState,
    FeedTooLarge,
    fetch_feed,
)

CSV = b"indicator,geo,period,value,unit\ncocaine_seized_tonnes,BEANR,2024,44.0,t\n"
CSV_HEADERS = {"Content-Type": "text/csv; charset=utf-8"}
SECRET = "s3cr3t-t0ken-do-not-leak"


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def local_spec(server: FeedServer, path: str = "/feed.csv", **kwargs) -> FeedSpec:
    """A spec for the loopback server, which only speaks http."""
    kwargs.setdefault("allow_http_hosts", (FeedServer.host,))
    return FeedSpec(url=server.url(path), **kwargs)


def fetch(client, spec, state=None, sleeps=None, environ=None):
    recorded = [] if sleeps is None else sleeps
    return fetch_feed(client, spec, state, environ=environ or {}, sleep=recorded.append)


# --- validators and change detection ---------------------------------------------------------------


def test_new_then_not_modified_sends_validators(server, client, sleeps):
    etag, modified = '"v1-abc"', "Wed, 01 Oct 2025 08:00:00 GMT"
    server.script(Reply(200, {**CSV_HEADERS, "ETag": etag, "Last-Modified": modified}, CSV))
    first = fetch(client, local_spec(server), sleeps=sleeps)

    assert first.status == "new"
    assert first.content == CSV
    assert first.content_type == "text/csv"
    assert first.sha256 == hashlib.sha256(CSV).hexdigest()
    assert (first.etag, first.last_modified, first.http_status, first.attempts) == (etag, modified, 200, 1)
    assert "if-none-match" not in server.requests[0].headers

    server.script(Reply(304, {"ETag": etag}))
    second = fetch(client, local_spec(server), first.to_state(), sleeps=sleeps)

    assert len(server.requests) == 2, "the 304 path must cost exactly one request"
    sent = server.requests[1].headers
    assert sent["if-none-match"] == etag
    assert sent["if-modified-since"] == modified
    assert second.status == "not_modified"
    assert second.content is None
    assert second.http_status == 304
    assert second.to_state() == first.to_state()
    assert sleeps == []


def test_identical_body_without_validators_is_unchanged(server, client):
    server.script(Reply(200, CSV_HEADERS, CSV))
    state = FeedState(sha256=hashlib.sha256(CSV).hexdigest())
    result = fetch(client, local_spec(server), state)

    assert result.status == "unchanged"
    assert result.content is None
    assert result.sha256 == state.sha256
    headers = server.requests[0].headers
    assert "if-none-match" not in headers and "if-modified-since" not in headers


def test_changed_body_is_new(server, client):
    server.script(Reply(200, CSV_HEADERS, CSV + b"homicide_rate_per_100k,BE,2024,1.1,per_100k\n"))
    result = fetch(client, local_spec(server), FeedState(sha256=hashlib.sha256(CSV).hexdigest()))
    assert result.status == "new"
    assert result.content.endswith(b"per_100k\n")


def test_polite_request_headers(server, client):
    server.script(Reply(200, CSV_HEADERS, CSV))
    fetch(client, local_spec(server, accept=["text/csv"], headers={"X-Feed-Client": "octracker-test"}))
    headers = server.requests[0].headers
    assert headers["user-agent"].startswith("octracker/")
    assert headers["accept"] == "text/csv"
    assert headers["accept-encoding"] == "gzip"
    assert headers["x-feed-client"] == "octracker-test"


def test_gzip_body_is_decoded_and_hashed_decoded(server, client):
    server.script(Reply(200, {**CSV_HEADERS, "Content-Encoding": "gzip"}, gzip.compress(CSV)))
    result = fetch(client, local_spec(server))
    assert result.content == CSV
    assert result.sha256 == hashlib.sha256(CSV).hexdigest()


# --- retries ---------------------------------------------------------------------------------------


def test_500_then_200_is_new_after_two_attempts(server, client, sleeps):
    server.script(Reply(500, {"Content-Type": "text/plain"}, b"oops"), Reply(200, CSV_HEADERS, CSV))
    result = fetch(client, local_spec(server), sleeps=sleeps)
    assert result.status == "new"
    assert result.attempts == 2
    assert len(server.requests) == 2
    assert sleeps == [1.0]


def test_429_honours_retry_after_seconds(server, client, sleeps):
    server.script(Reply(429, {"Retry-After": "7"}), Reply(200, CSV_HEADERS, CSV))
    result = fetch(client, local_spec(server), sleeps=sleeps)
    assert result.status == "new"
    assert sleeps == [7.0]


def test_retry_after_is_capped(server, client, sleeps):
    server.script(Reply(503, {"Retry-After": "86400"}), Reply(200, CSV_HEADERS, CSV))
    fetch(client, local_spec(server), sleeps=sleeps)
    assert sleeps == [RETRY_AFTER_MAX_S]


def test_retry_after_http_date():
    now = datetime(2025, 10, 1, 8, 0, 0, tzinfo=UTC)
    in_30s = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(in_30s, now.timestamp()) == 30.0
    assert parse_retry_after("Wed, 01 Oct 2025 07:00:00 GMT", now.timestamp()) == 0.0
    assert parse_retry_after("soon", now.timestamp()) is None


def test_always_500_fails_after_max_attempts(server, client, sleeps):
    server.script(*[Reply(500) for _ in range(3)])
    with pytest.raises(PipelineFailed) as caught:
        fetch(client, local_spec(server, max_attempts=3), sleeps=sleeps)
    error = caught.value
    assert isinstance(error, FeedFailed)
    assert error.exit_code == 1
    assert (error.status, error.attempts) == (500, 3)
    assert "3 attempts" in str(error) and "HTTP 500" in str(error)
    assert len(server.requests) == 3
    assert sleeps == [1.0, 2.0], "exponential backoff, and no sleep after the last attempt"


def test_timeout_is_retried(server, client, sleeps):
    # A limit a loaded machine answers the second request within, far below the first one's delay.
    server.script(Reply(200, CSV_HEADERS, CSV, delay_s=10.0), Reply(200, CSV_HEADERS, CSV))
    result = fetch(client, local_spec(server, timeout_s=2.0), sleeps=sleeps)
    assert result.status == "new"
    assert result.attempts == 2
    assert sleeps == [1.0]


def test_dropped_connection_is_retried(server, client, sleeps):
    server.script(Reply(drop=True), Reply(200, CSV_HEADERS, CSV))
    result = fetch(client, local_spec(server), sleeps=sleeps)
    assert (result.status, result.attempts) == ("new", 2)


def test_404_fails_at_once_with_a_hint(server, client, sleeps):
    server.script(Reply(404))
    with pytest.raises(FeedFailed, match=r"HTTP 404 Not Found; check the url") as caught:
        fetch(client, local_spec(server), sleeps=sleeps)
    assert caught.value.status == 404
    assert len(server.requests) == 1
    assert sleeps == []


# --- size limit ------------------------------------------------------------------------------------

BIG = 32 * 1024 * 1024  # far beyond loopback socket buffers, so an unread body cannot all be sent


def stream_of(total: int, chunk: int = 64 * 1024):
    return lambda: (b"x" * chunk for _ in range(total // chunk))


def test_oversize_content_length_refused_without_reading_body(server, client):
    server.script(Reply(200, CSV_HEADERS, stream_of(BIG), content_length=BIG))
    with pytest.raises(InputRefused) as caught:
        fetch(client, local_spec(server, max_bytes=1000))
    error = caught.value
    assert isinstance(error, FeedTooLarge)
    assert error.exit_code == 2
    assert error.bytes_read == 0
    assert "larger than the limit of 1000 bytes; raise max_bytes in the pipeline spec" in str(error)
    server.wait_finished(1)
    assert not server.requests[0].completed


def test_oversize_chunked_refused_just_past_the_limit(server, client):
    limit = 100_000
    server.script(Reply(200, CSV_HEADERS, stream_of(BIG, chunk=8192), chunked=True))
    with pytest.raises(FeedTooLarge) as caught:
        fetch(client, local_spec(server, max_bytes=limit))
    # One network read (at most 64 KiB) past the limit, never the whole body.
    assert limit < caught.value.bytes_read <= limit + 64 * 1024
    server.wait_finished(1)
    assert not server.requests[0].completed


def test_body_exactly_at_the_limit_is_accepted(server, client):
    server.script(Reply(200, CSV_HEADERS, CSV, chunked=True))
    assert fetch(client, local_spec(server, max_bytes=len(CSV))).content == CSV


def test_gzip_bomb_refused_at_decoded_size(server, client):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # about 20 KiB on the wire
    server.script(Reply(200, {**CSV_HEADERS, "Content-Encoding": "gzip"}, bomb))
    with pytest.raises(FeedTooLarge) as caught:
        fetch(client, local_spec(server, max_bytes=1_000_000))
    assert caught.value.bytes_read == 1_000_001, "inflating stops one byte past the limit"


# --- content type ----------------------------------------------------------------------------------


def test_wrong_content_type_refused_naming_type_and_redacted_url(server, client):
    server.script(Reply(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>login</html>"))
    spec = local_spec(server, "/feed.csv?api_key=" + SECRET, accept=["text/csv"])
    with pytest.raises(InputRefused) as caught:
        fetch(client, spec)
    message = str(caught.value)
    assert "'text/html'" in message
    assert f"http://127.0.0.1:{server.port}/…" in message
    assert SECRET not in message and "api_key" not in message and "feed.csv" not in message


def test_missing_content_type_refused(server, client):
    server.script(Reply(200, {}, CSV))
    with pytest.raises(InputRefused, match=r"'\(none\)'"):
        fetch(client, local_spec(server))


# --- https rule and redirects ----------------------------------------------------------------------


def test_http_to_host_not_allowed_refused_before_any_request(server, client):
    spec = FeedSpec(url=server.url())
    refusal = r"plain http is not allowed for host '127.0.0.1'.*allow_http_hosts"
    with pytest.raises(InputRefused, match=refusal):
        fetch(client, spec)
    assert server.requests == []


def test_other_schemes_refused(client):
    with pytest.raises(InputRefused, match="only https"):
        fetch(client, FeedSpec(url="ftp://127.0.0.1/feed.csv"))


def test_credentials_in_url_refused(server, client):
    url = f"http://analyst:{SECRET}@{FeedServer.host}:{server.port}/feed.csv"
    spec = FeedSpec(url=url, allow_http_hosts=(FeedServer.host,))
    with pytest.raises(InputRefused, match="auth_env") as caught:
        fetch(client, spec)
    assert SECRET not in str(caught.value)
    assert server.requests == []


def test_authorization_header_in_spec_refused():
    with pytest.raises(InputRefused, match="auth_env"):
        FeedSpec(url="https://example.org/feed.csv", headers={"Authorization": "Bearer x"})


def test_redirect_to_http_host_not_allowed_refused(server, client):
    # localhost rather than a remote name: were the check broken, the hop would still stay on loopback.
    server.script(Reply(302, {"Location": f"http://localhost:{server.port}/feed.csv?token={SECRET}"}))
    refusal = r"redirected to http://localhost:\d+/…: plain http is not allowed for host 'localhost'"
    with pytest.raises(InputRefused, match=refusal) as caught:
        fetch(client, local_spec(server))
    assert SECRET not in str(caught.value)
    assert len(server.requests) == 1


def test_redirect_followed_on_allowed_host(server, client):
    server.script(Reply(301, {"Location": "/v2/feed.csv"}), Reply(200, CSV_HEADERS, CSV))
    result = fetch(client, local_spec(server))
    assert result.status == "new"
    assert result.final_url == server.url("/v2/feed.csv")
    assert [r.path for r in server.requests] == ["/feed.csv", "/v2/feed.csv"]


def test_too_many_redirects_fail(server, client):
    server.script(*[Reply(302, {"Location": f"/hop{i}"}) for i in range(10)])
    with pytest.raises(PipelineFailed, match="more than 5 redirects"):
        fetch(client, local_spec(server))
    assert len(server.requests) == 6


def test_credentials_not_forwarded_to_another_origin(server, client):
    with FeedServer() as mirror:
        server.script(Reply(302, {"Location": mirror.url("/feed.csv")}))
        mirror.script(Reply(200, CSV_HEADERS, CSV))
        result = fetch(client, local_spec(server, auth_env="FEED_TOKEN"), environ={"FEED_TOKEN": SECRET})
    assert result.status == "new"
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert "authorization" not in mirror.requests[0].headers


# --- credentials -----------------------------------------------------------------------------------


def test_bearer_token_from_env_sent_and_never_in_errors_or_logs(server, client, caplog):
    caplog.set_level(logging.DEBUG)
    server.script(Reply(500), Reply(401))
    with pytest.raises(FeedFailed) as caught:
        fetch(client, local_spec(server, auth_env="FEED_TOKEN"), environ={"FEED_TOKEN": SECRET})
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    message = str(caught.value)
    assert "HTTP 401" in message and "check the credentials in $FEED_TOKEN" in message
    assert SECRET not in message
    assert caplog.records, "the retry should have been logged"
    assert SECRET not in caplog.text


def test_basic_auth_from_env(server, client):
    server.script(Reply(200, CSV_HEADERS, CSV))
    fetch(client, local_spec(server, auth_env="FEED_LOGIN"), environ={"FEED_LOGIN": "analyst:" + SECRET})
    expected = base64.b64encode(f"analyst:{SECRET}".encode()).decode()
    assert server.requests[0].headers["authorization"] == f"Basic {expected}"


def test_missing_credentials_fail_before_any_request(server, client):
    with pytest.raises(PipelineFailed, match=r"\$FEED_TOKEN, which is not set"):
        fetch(client, local_spec(server, auth_env="FEED_TOKEN"), environ={})
    assert server.requests == []


# --- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@data.example.org:8443/a/b.csv?key=1#x", "https://data.example.org:8443/a/b.csv"),
        ("https://data.example.org/feed", "https://data.example.org/feed"),
        (httpx.URL("http://127.0.0.1:8000/f?x=1"), "http://127.0.0.1:8000/f"),
    ],
)
def test_public_url_drops_userinfo_query_and_fragment(url, expected):
    assert public_url(url) == expected
    assert redact(url) == expected.split("/", 3)[0] + "//" + expected.split("/", 3)[2] + "/…"


def test_spec_validation():
    with pytest.raises(InputRefused, match="max_bytes must be positive"):
        FeedSpec(url="https://example.org/f", max_bytes=0)
    with pytest.raises(InputRefused, match="accept is empty"):
        FeedSpec(url="https://example.org/f", accept=[])
    spec = FeedSpec(url="https://example.org/f", accept=["Text/CSV"], allow_http_hosts=("Mirror.Local",))
    assert spec.accept == ("text/csv",) and spec.allow_http_hosts == ("mirror.local",)

"""Webhook signing and delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import email.utils
import logging
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from octracker import __version__
from octracker.alerts.webhooks import (
    DeliveryResult,
    RetryPolicy,
    WebhookConfigError,
    backoff_delay,
    deliver_message,
    parse_retry_after,
    random_jitter,
    redact_url,
    sign_payload,
    verify_signature,
    webhook_secret_from_env,
    webhook_urls_from_env,
)
from octracker.errors import OctrackerError
from webhook_receiver import Reply, WebhookReceiver, receiver, refused_port  # noqa: F401 - fixture

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type": "alert.opened", "fingerprint": "abc123"}'
TOKEN = "SECRET-TOKEN-123"


class FakeTime:
    """A clock that only moves when the code under test sleeps; sleeps are recorded, not slept."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def deliver(client: httpx.Client, url: str, fake: FakeTime, *, secret: str | None = SECRET, **policy) -> DeliveryResult:
    return deliver_message(
        client,
        url,
        msg_id="msg_2024_abc",
        body=BODY,
        secret=secret,
        policy=RetryPolicy(**policy),
        sleep=fake.sleep,
        clock=fake.clock,
        jitter=lambda delay: 0.0,
    )


# --- Delivery outcomes --------------------------------------------------------------------------


def test_delivers_on_first_attempt_with_standard_headers(client, receiver, fake):
    receiver.play(Reply(200))
    result = deliver(client, receiver.url(), fake)
    assert result == DeliveryResult("delivered", attempts=1, last_status=200)
    [req] = receiver.requests
    assert req.path == "/hook"
    assert req.body == BODY
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == f"octracker/{__version__}"
    assert req.headers["webhook-id"] == "msg_2024_abc"
    assert req.headers["webhook-timestamp"] == str(int(fake.now))
    assert verify_signature(SECRET, req.headers, req.body, now=fake.now)
    assert fake.sleeps == []


def test_sends_no_signature_without_a_secret(client, receiver, fake):
    receiver.play(Reply(204))
    result = deliver(client, receiver.url(), fake, secret=None)
    assert result.outcome == "delivered"
    assert "webhook-signature" not in receiver.requests[0].headers


def test_retries_500_with_same_id_fresh_timestamp_and_valid_signatures(client, receiver, fake):
    receiver.play(Reply(500), Reply(200))
    result = deliver(client, receiver.url(), fake)
    assert (result.outcome, result.attempts, result.last_status) == ("delivered", 2, 200)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_2024_abc"
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert verify_signature(SECRET, first.headers, first.body, now=fake.now)
    assert verify_signature(SECRET, second.headers, second.body, now=fake.now)
    assert fake.sleeps == [1.0]


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(client, receiver, fake, status):
    receiver.play(Reply(status), Reply(200))
    result = deliver(client, receiver.url(), fake)
    assert (result.outcome, result.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 2


def test_retry_after_seconds_replaces_the_backoff(client, receiver, fake):
    receiver.play(Reply(429, headers={"Retry-After": "2"}), Reply(200))
    result = deliver(client, receiver.url(), fake, base_delay_s=5.0)
    assert result.outcome == "delivered"
    assert fake.sleeps == [2.0]


def test_retry_after_http_date(client, receiver, fake):
    when = email.utils.formatdate(fake.now + 7, usegmt=True)
    receiver.play(Reply(503, headers={"Retry-After": when}), Reply(200))
    result = deliver(client, receiver.url(), fake)
    assert result.outcome == "delivered"
    assert fake.sleeps == [7.0]


def test_retry_after_is_capped(client, receiver, fake):
    receiver.play(Reply(429, headers={"Retry-After": "3600"}), Reply(200))
    deliver(client, receiver.url(), fake, max_retry_after_s=300)
    assert fake.sleeps == [300.0]


def test_absurd_retry_after_is_capped_not_a_crash(client, receiver, fake):
    receiver.play(Reply(429, headers={"Retry-After": "9" * 5000}), Reply(200))
    result = deliver(client, receiver.url(), fake, max_retry_after_s=300)
    assert result.outcome == "delivered"
    assert fake.sleeps == [300.0]


def test_unreadable_retry_after_falls_back_to_backoff(client, receiver, fake):
    receiver.play(Reply(503, headers={"Retry-After": "soon-ish"}), Reply(200))
    deliver(client, receiver.url(), fake, base_delay_s=3.0)
    assert fake.sleeps == [3.0]


def test_retry_after_on_the_last_attempt_sets_next_attempt_after(client, receiver, fake):
    receiver.play(Reply(503, headers={"Retry-After": "120"}))
    result = deliver(client, receiver.url(), fake, max_attempts=1)
    assert result.outcome == "retry_later"
    assert result.next_attempt_after == fake.now + 120


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_other_4xx_is_rejected_after_one_attempt(client, receiver, fake, status):
    receiver.play(Reply(status, body=b'{"error": "nope"}'))
    result = deliver(client, receiver.url(), fake)
    assert result.outcome == "rejected"
    assert (result.attempts, result.last_status, result.next_attempt_after) == (1, status, None)
    assert f"status {status}" in result.error
    assert len(receiver.requests) == 1
    assert fake.sleeps == []


def test_redirect_is_not_followed_and_rejected(client, receiver, fake):
    receiver.play(Reply(302, headers={"Location": receiver.url("/elsewhere")}))
    result = deliver(client, receiver.url(), fake)
    assert (result.outcome, result.last_status) == ("rejected", 302)
    assert "only 307/308 to the same host and port are followed" in result.error
    assert [r.path for r in receiver.requests] == ["/hook"]


@pytest.mark.parametrize("status", [307, 308])
def test_a_temporary_or_permanent_redirect_to_the_same_origin_is_followed_with_the_signed_body(
    client, receiver, fake, status
):
    receiver.play(Reply(status, headers={"Location": "/moved"}), Reply(204))
    result = deliver(client, receiver.url(), fake)
    assert (result.outcome, result.last_status) == ("delivered", 204)
    first, second = receiver.requests
    assert (first.path, second.path) == ("/hook", "/moved")
    assert second.body == first.body and second.headers["webhook-id"] == first.headers["webhook-id"]


def test_a_redirect_to_another_origin_is_not_followed(client, receiver, fake):
    elsewhere = f"http://localhost:{receiver.port}/elsewhere"
    receiver.play(Reply(307, headers={"Location": elsewhere}))
    result = deliver(client, receiver.url(), fake)
    assert (result.outcome, result.last_status) == ("rejected", 307)
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_receiver_down_gives_retry_later_after_capped_backoff(client, fake):
    url = f"http://127.0.0.1:{refused_port()}/hook"
    result = deliver(client, url, fake, max_attempts=8, base_delay_s=1.0, max_delay_s=10.0)
    assert (result.outcome, result.attempts, result.last_status) == ("retry_later", 8, None)
    assert "connection failed" in result.error
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert result.next_attempt_after == fake.now + 10.0


def test_default_policy_backoff_sequence(client, fake):
    result = deliver(client, f"http://127.0.0.1:{refused_port()}/", fake)
    assert result.attempts == 6
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert result.next_attempt_after == fake.now + 32.0


# The limits of these tests leave a loaded machine time to answer a fast request (a fraction of a second could pass
# before the receiver's thread ran), and a slow one is slower by far than the limit: waiting for it shows.


def test_slow_receiver_times_out_then_retry_later(client, receiver, fake):
    receiver.play(Reply(200, delay_s=10.0), Reply(200, delay_s=10.0))
    started = time.monotonic()
    result = deliver(client, receiver.url(), fake, max_attempts=2, timeout_s=1.0)
    # Two attempts of 1 s: 20 s had either waited for its answer.
    assert time.monotonic() - started < 8.0
    assert (result.outcome, result.attempts, result.last_status) == ("retry_later", 2, None)
    assert "no complete answer within the overall limit of 1s" in result.error
    # The receiver did get both; the shared id is what lets it drop the duplicate.
    assert {r.headers["webhook-id"] for r in receiver.requests} == {"msg_2024_abc"}
    assert len(receiver.requests) == 2


def test_slow_then_fast_receiver_is_delivered(client, receiver, fake):
    receiver.play(Reply(200, delay_s=10.0), Reply(200))
    result = deliver(client, receiver.url(), fake, timeout_s=2.0)
    assert (result.outcome, result.attempts) == ("delivered", 2)


# --- What the response body may do -----------------------------------------------------------------

GARBAGE = b"\x00\xff<html>not json at all{{"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, headers={"content-type": "application/json"}, body=GARBAGE),
        Reply(200, headers={"content-encoding": "gzip"}, body=GARBAGE),
        # Promises 1000 bytes, sends a few, then closes: the body cannot be read to the end.
        Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + GARBAGE),
        # Sends a few bytes of the promised body, then stalls past the timeout.
        Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + GARBAGE, hang_s=5.0),
    ],
    ids=["not-json", "fake-gzip", "truncated", "stalled"],
)
def test_garbage_body_on_2xx_is_still_delivered(client, receiver, fake, reply):
    receiver.play(reply)
    result = deliver(client, receiver.url(), fake, timeout_s=2.0)
    assert (result.outcome, result.attempts, result.last_status) == ("delivered", 1, 200)


def test_huge_response_body_is_not_read_to_the_end(client, receiver, fake):
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\n\r\n"
    receiver.play(Reply(raw=head + b"x" * (256 * 1024), hang_s=20.0))
    started = time.monotonic()
    result = deliver(client, receiver.url(), fake, timeout_s=10.0)
    assert result.outcome == "delivered"
    # Reading on would wait for bytes that never come, until the 10 s limit; stopping at the bound returns at once.
    assert time.monotonic() - started < 5.0


# --- Signatures ------------------------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_example():
    # The worked example from the Standard Webhooks specification.
    signature = sign_payload(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_plain_secret_is_used_as_utf8_bytes():
    plain = "correct horse battery staple"
    prefixed = "whsec_" + base64.b64encode(plain.encode()).decode()
    assert sign_payload(plain, "m1", 1, b"{}") == sign_payload(prefixed, "m1", 1, b"{}")


def signed_headers(msg_id: str = "msg_1", timestamp: int = 1_800_000_000, body: bytes = BODY) -> dict[str, str]:
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": sign_payload(SECRET, msg_id, timestamp, body),
    }


def test_verify_accepts_a_fresh_signature():
    assert verify_signature(SECRET, signed_headers(), BODY, now=1_800_000_010)


def test_verify_rejects_a_changed_body():
    assert not verify_signature(SECRET, signed_headers(), BODY + b" ", now=1_800_000_010)


def test_verify_rejects_a_changed_id():
    headers = signed_headers() | {"Webhook-Id": "msg_2"}
    assert not verify_signature(SECRET, headers, BODY, now=1_800_000_010)


@pytest.mark.parametrize("offset", [-301, 301, 3600])
def test_verify_rejects_a_timestamp_outside_the_tolerance(offset):
    assert not verify_signature(SECRET, signed_headers(), BODY, now=1_800_000_000 + offset)


def test_verify_rejects_another_secret_and_missing_or_malformed_headers():
    other = "whsec_" + base64.b64encode(b"another key entirely").decode()
    assert not verify_signature(other, signed_headers(), BODY, now=1_800_000_000)
    for name in ("Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"):
        headers = signed_headers()
        del headers[name]
        assert not verify_signature(SECRET, headers, BODY, now=1_800_000_000)
    for timestamp in ("soon", "-5", "9" * 5000):
        headers = signed_headers() | {"Webhook-Timestamp": timestamp}
        assert not verify_signature(SECRET, headers, BODY, now=1_800_000_000)


def test_verify_accepts_one_valid_signature_among_several():
    headers = signed_headers()
    headers["Webhook-Signature"] = "v1,bm90IGl0 " + headers["Webhook-Signature"] + " v1a,xyz"
    assert verify_signature(SECRET, headers, BODY, now=1_800_000_000)


@given(msg_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1), body=st.binary())
def test_sign_verify_round_trip(msg_id, body):
    headers = signed_headers(msg_id, 1_800_000_000, body)
    assert verify_signature(SECRET, headers, body, now=1_800_000_000)
    assert not verify_signature(SECRET, headers, body + b"x", now=1_800_000_000)


def test_malformed_whsec_secret_is_refused_without_echoing_it():
    with pytest.raises(WebhookConfigError) as err:
        sign_payload("whsec_not*base64!" + TOKEN, "m", 1, b"")
    assert TOKEN not in str(err.value)


# --- Redaction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://hooks.example.org/services/T000/B000/" + TOKEN, "https://hooks.example.org/…"),
        ("https://hooks.example.org:8443/x?token=" + TOKEN, "https://hooks.example.org:8443/…"),
        (f"https://bot:{TOKEN}@Hooks.Example.org", "https://hooks.example.org/…"),
        ("https://hooks.example.org/", "https://hooks.example.org"),
        ("http://[::1]:9000/" + TOKEN, "http://[::1]:9000/…"),
        ("hooks.example.org/" + TOKEN, "<unparseable url>"),
        ("http://hooks.example.org:99999/" + TOKEN, "<unparseable url>"),
    ],
)
def test_redact_url_keeps_scheme_host_and_port_only(url, shown):
    assert redact_url(url) == shown


@given(path=st.text(min_size=1), query=st.text())
def test_redact_url_never_shows_path_or_query(path, query):
    url = f"https://hooks.example.org/{path}?{query}"
    assert redact_url(url) in ("https://hooks.example.org/…", "https://hooks.example.org", "<unparseable url>")


def test_no_error_or_log_line_contains_the_url_path_or_token(client, receiver, fake, caplog):
    caplog.set_level(logging.DEBUG, logger="octracker.alerts.webhooks")
    secret_url = receiver.url(f"/hook/{TOKEN}?token={TOKEN}")
    down_url = f"http://bot:{TOKEN}@127.0.0.1:{refused_port()}/hook/{TOKEN}"
    echo = f"No route for POST /hook/{TOKEN}?token={TOKEN}"
    receiver.play(
        Reply(500),
        Reply(302, headers={"Location": secret_url}),
        Reply(404, reason=echo),
        Reply(200, delay_s=0.6),
    )
    errors = [
        deliver(client, secret_url, fake).error,  # 500, then a redirect
        deliver(client, secret_url, fake).error,  # 404
        deliver(client, secret_url, fake, max_attempts=1, timeout_s=0.2).error,  # timeout
        deliver(client, down_url, fake, max_attempts=2).error,  # connection refused
    ]
    for bad in (f"ftp://127.0.0.1/hook/{TOKEN}", f"/hook/{TOKEN}", f"http:///hook/{TOKEN}"):
        with pytest.raises(WebhookConfigError) as err:
            webhook_urls_from_env({"OCTRACKER_WEBHOOK_URL": f"{receiver.url()} {bad}"})
        errors.append(str(err.value))
        with pytest.raises(WebhookConfigError) as err:
            deliver(client, bad, fake)
        errors.append(str(err.value))
    lines = [record.getMessage() for record in caplog.records]
    assert all(errors) and len(lines) >= 5
    for text in errors + lines:
        assert TOKEN not in text
        assert "/hook/" not in text
    assert any("http://127.0.0.1:" in line and "/…" in line for line in lines)


# --- Logging -----------------------------------------------------------------------------------------


def test_logs_one_line_per_attempt_with_status_and_delay(client, receiver, fake, caplog):
    caplog.set_level(logging.INFO, logger="octracker.alerts.webhooks")
    receiver.play(Reply(500), Reply(503), Reply(200))
    deliver(client, receiver.url(), fake)
    lines = [r.getMessage() for r in caplog.records if r.name == "octracker.alerts.webhooks"]
    assert len(lines) == 3
    assert "attempt 1/6" in lines[0] and "status 500" in lines[0] and "retrying in 1.0s" in lines[0]
    assert "attempt 2/6" in lines[1] and "status 503" in lines[1] and "retrying in 2.0s" in lines[1]
    assert "attempt 3/6" in lines[2] and "delivered" in lines[2]
    assert all(f"http://127.0.0.1:{receiver.port}/…" in line for line in lines)


# --- Settings ----------------------------------------------------------------------------------------


def test_webhook_urls_from_env():
    a, b = "https://a.example.org/hook/1", "http://127.0.0.1:9000/h"
    assert webhook_urls_from_env({}) == []
    assert webhook_urls_from_env({"OCTRACKER_WEBHOOK_URL": "  "}) == []
    assert webhook_urls_from_env({"OCTRACKER_WEBHOOK_URL": f" {a}  {b} {a}\n"}) == [a, b]


def test_bad_webhook_url_names_the_entry_and_is_a_usage_error():
    with pytest.raises(WebhookConfigError) as err:
        webhook_urls_from_env({"OCTRACKER_WEBHOOK_URL": f"https://a.example.org ftp://files.example.org/{TOKEN}"})
    assert isinstance(err.value, OctrackerError) and err.value.exit_code == 2
    assert "OCTRACKER_WEBHOOK_URL entry 2 (ftp://files.example.org/…)" in str(err.value)


def test_a_webhook_url_with_a_malformed_port_is_refused_without_its_token():
    with pytest.raises(WebhookConfigError) as err:
        webhook_urls_from_env({"OCTRACKER_WEBHOOK_URL": f"https://hooks.example.org:44x/{TOKEN}"})
    assert "OCTRACKER_WEBHOOK_URL entry 1" in str(err.value) and TOKEN not in str(err.value)


def test_webhook_secret_from_env():
    assert webhook_secret_from_env({}) is None
    assert webhook_secret_from_env({"OCTRACKER_WEBHOOK_SECRET": " "}) is None
    assert webhook_secret_from_env({"OCTRACKER_WEBHOOK_SECRET": f" {SECRET}\n"}) == SECRET
    with pytest.raises(WebhookConfigError) as err:
        webhook_secret_from_env({"OCTRACKER_WEBHOOK_SECRET": f"whsec_{TOKEN}!"})
    assert TOKEN not in str(err.value)


def test_bad_message_id_and_policy_are_refused(client):
    with pytest.raises(WebhookConfigError, match="message id"):
        deliver_message(client, "http://127.0.0.1:9/", msg_id="a b", body=b"{}", secret=None, policy=RetryPolicy())
    with pytest.raises(WebhookConfigError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(WebhookConfigError, match="timeout_s"):
        RetryPolicy(timeout_s=0)


# --- Backoff and Retry-After arithmetic -------------------------------------------------------------


@given(attempt=st.integers(min_value=1, max_value=10_000))
def test_default_jitter_adds_at_most_ten_percent(attempt):
    policy = RetryPolicy()
    capped = min(policy.max_delay_s, policy.base_delay_s * 2 ** min(attempt - 1, 64))
    assert capped <= backoff_delay(policy, attempt, jitter=random_jitter) <= capped * 1.1


@given(value=st.text())
def test_parse_retry_after_never_raises(value):
    seconds = parse_retry_after(value, 1_800_000_000.0)
    assert seconds is None or seconds >= 0


def test_parse_retry_after():
    now = 1_800_000_000.0
    assert parse_retry_after(" 5 ", now) == 5.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    for unreadable in ("", "-1", "1.5", "tomorrow", "Mon, 99 Foo 2020 99:99:99 GMT"):
        assert parse_retry_after(unreadable, now) is None

"""Delivery faults: a webhook receiver that is down for an hour, too slow, or answers garbage; a sender killed
between the POST and its record. A real receiver on 127.0.0.1; hours pass on a simulated clock.

What must hold afterwards: once the receiver answers again, every alert event has reached it, and a receiver
that keeps the `webhook-id`s it has processed (as docs/operators.md asks) processes each event exactly once: every
repeat of an event carries the same id and body; every delivery is recorded `delivered`; a further send sends
nothing. While the receiver is down nothing is lost (deliveries stay pending, in order) and nothing is hammered
(a delivery is not tried again before its next attempt time).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import duckdb
import pytest
from hostile_fixtures import baseline, child_env, loaded, octracker_command  # noqa: F401

from conftest import edit_warehouse
from octracker.alerts.deliveries import configured_webhooks, send_alerts
from octracker.alerts.webhooks import RetryPolicy, verify_signature
from webhook_receiver import Reply, WebhookReceiver, receiver, refused_port  # noqa: F401 - fixture

SECRET = "whsec_" + "aG9zdGlsZS10ZXN0LWtleQ=="
#: Three indicators of the bundled data raise six alerts: two +1.00 index moves, two resilience falls, and
#: law enforcement's 2025 score a new record for BE and NL over the workbook's 2021 and 2023 editions.
KEPT = ("oci.trade_in_counterfeit_goods", "oci.financial_crimes", "oci.law_enforcement")
ALERTS = 6


class SimulatedClock:
    """Seconds since the epoch that move only when told: by the sender's own sleeps, or by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def settings(loaded):
    edit_warehouse(
        loaded.warehouse,
        "DELETE FROM observation_versions "
        f"WHERE series_id NOT IN (SELECT series_id FROM series_keys WHERE indicator_id IN {KEPT})",
    )
    return loaded


def send(settings, client, url: str, clock: SimulatedClock | None = None, policy: RetryPolicy = RetryPolicy()):
    clock = clock or SimulatedClock()
    return send_alerts(
        settings, configured_webhooks([url]), SECRET, client=client, policy=policy, sleep=clock.sleep, clock=clock
    )


def deliveries(settings) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute("SELECT status, COUNT(*) FROM alert_deliveries GROUP BY ALL ORDER BY ALL").fetchall()
    finally:
        con.close()


def assert_processed_exactly_once(receiver: WebhookReceiver) -> None:
    """As a receiver that drops ids it has seen: each event once, and every repeat the same request again."""
    first: dict[str, bytes] = {}
    for request in receiver.requests:
        assert verify_signature(SECRET, request.headers, request.body, tolerance_s=10**9)
        body = first.setdefault(request.headers["webhook-id"], request.body)
        assert request.body == body  # a repeat is the same event, so dropping it loses nothing
    assert len(first) == ALERTS


@pytest.mark.slow
def test_a_receiver_down_for_an_hour_gets_every_alert_exactly_once_when_it_is_back(settings, client):
    port = refused_port()
    url = f"http://127.0.0.1:{port}/hook"
    clock = SimulatedClock()
    started = clock.now
    # The scheduler's alert job every 10 minutes, for an hour, while nothing listens.
    while clock.now - started < 3600:
        report = send(settings, client, url, clock)
        assert (report.delivered, report.pending, report.exit_code) == (0, ALERTS, 1)
        assert deliveries(settings) == [("pending", ALERTS)]
        if clock.now - started < 600:
            # Straight after a failed send nothing is due: another send tries nothing (and keeps the order).
            assert send(settings, client, url, clock).problems == []
        clock.sleep(600)
    back = WebhookReceiver(port)
    back.start()
    try:
        back.play(*[Reply(200)] * ALERTS)
        report = send(settings, client, url, clock)
        assert (report.planned.total, report.delivered, report.pending, report.exit_code) == (0, ALERTS, 0, 0)
        assert_processed_exactly_once(back)
        assert len(back.requests) == ALERTS
        # In order: the event tried all along goes first, the others (never tried while it waited) after it.
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        tried = con.execute("SELECT webhook_id, attempts FROM alert_deliveries ORDER BY attempts DESC").fetchall()
        con.close()
        assert (
            back.requests[0].headers["webhook-id"] == tried[0][0] and tried[0][1] == 6 * 6 + 1
        )  # six sends of six attempts, then the one that went
        assert [attempts for _, attempts in tried[1:]] == [1] * (ALERTS - 1)
        assert deliveries(settings) == [("delivered", ALERTS)]
        assert send(settings, client, url, clock).delivered == 0 and len(back.requests) == ALERTS
    finally:
        back.stop()


def test_a_receiver_slower_than_the_timeout_gets_every_alert_once_by_its_webhook_id(settings, client, receiver):
    # A limit a loaded machine answers a prompt request within.
    policy = RetryPolicy(max_attempts=2, timeout_s=2.0, base_delay_s=1.0)
    clock = SimulatedClock()
    # It takes 10 s to answer the first three requests: each one was received, and counts as not delivered.
    receiver.play(*[Reply(200, delay_s=10.0)] * 3, *[Reply(200)] * (ALERTS + 1))
    first = send(settings, client, receiver.url(), clock, policy)
    assert (first.delivered, first.pending, first.exit_code) == (0, ALERTS, 1)
    assert "no complete answer within the overall limit of 2s" in first.problems[0]
    clock.sleep(600)
    second = send(settings, client, receiver.url(), clock, policy)
    assert (second.delivered, second.pending) == (ALERTS, 0)
    # The first event reached the receiver four times, always with the same webhook-id; the others once.
    assert sorted(Counter(r.headers["webhook-id"] for r in receiver.requests).values()) == [1] * (ALERTS - 1) + [4]
    assert_processed_exactly_once(receiver)
    assert deliveries(settings) == [("delivered", ALERTS)]


GARBAGE = [
    Reply(raw=b"\x00\xff\xfe not http at all\r\n\r\n"),
    Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n"),  # headers cut off: no answer
    Reply(502, body=b"<html>Bad Gateway</html>" * 1000),
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=["not-http", "cut-headers", "502-page"])
def test_a_receiver_answering_garbage_gets_every_alert_once_when_it_answers_properly(
    settings, client, receiver, garbage
):
    policy = RetryPolicy(max_attempts=3, timeout_s=2.0)
    clock = SimulatedClock()
    receiver.play(*[garbage] * 3, *[Reply(200)] * ALERTS)
    first = send(settings, client, receiver.url(), clock, policy)
    assert (first.delivered, first.rejected, first.pending) == (0, 0, ALERTS)
    clock.sleep(600)
    second = send(settings, client, receiver.url(), clock, policy)
    assert (second.delivered, second.pending, second.exit_code) == (ALERTS, 0, 0)
    assert_processed_exactly_once(receiver)
    assert deliveries(settings) == [("delivered", ALERTS)]


def test_a_2xx_with_a_garbage_or_broken_body_is_delivered_and_never_sent_again(settings, client, receiver):
    receiver.play(
        Reply(200, headers={"content-encoding": "gzip"}, body=b"not gzip at all"),
        Reply(raw=b"HTTP/1.1 202 Accepted\r\ncontent-length: 1000\r\n\r\npartial"),
        Reply(204),
        *[Reply(200, body=b"\x00" * 200_000)] * (ALERTS - 3),
    )
    report = send(settings, client, receiver.url())
    assert (report.delivered, report.pending, report.rejected) == (ALERTS, 0, 0)
    assert send(settings, client, receiver.url()).delivered == 0
    assert len(receiver.requests) == ALERTS
    assert_processed_exactly_once(receiver)


@pytest.mark.slow
def test_a_sender_killed_between_the_post_and_its_record_resends_only_that_event_with_the_same_id(settings, receiver):
    env = child_env(OCTRACKER_WEBHOOK_URL=receiver.url("/hook"), OCTRACKER_WEBHOOK_SECRET=SECRET)
    # The receiver takes the first event, then is slow to answer: the sender dies before recording it.
    receiver.play(Reply(200, delay_s=5), *[Reply(200)] * ALERTS)
    sender = subprocess.Popen(
        octracker_command(settings, "alerts", "send"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not receiver.requests:
        assert sender.poll() is None and time.monotonic() < deadline, sender.stderr.read()
        time.sleep(0.01)
    sender.send_signal(signal.SIGKILL)
    sender.wait(30)
    # Every delivery it claimed is still `sending`: none was recorded as delivered, none lost.
    assert deliveries(settings) == [("sending", ALERTS)]
    again = subprocess.run(
        octracker_command(settings, "alerts", "send"), env=env, capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stderr
    assert deliveries(settings) == [("delivered", ALERTS)]
    # Only the event in flight at the crash went twice, with the same webhook-id: the receiver drops the repeat.
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert sorted(ids.values()) == [1] * (ALERTS - 1) + [2]
    assert ids.most_common(1)[0][0] == receiver.requests[0].headers["webhook-id"]
    assert_processed_exactly_once(receiver)


def test_the_docs_tell_receivers_to_drop_repeated_webhook_ids():
    from hostile_fixtures import REPO

    reliability = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    operators = (REPO / "docs" / "operators.md").read_text(encoding="utf-8")
    assert "webhook-id" in reliability and "at most once" in reliability
    assert "keep the ids they have processed and drop repeats" in operators

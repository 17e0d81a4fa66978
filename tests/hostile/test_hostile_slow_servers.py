"""Servers that answer one byte or one header at a time: every request ends within its overall limit.

What must hold: a feed or a webhook receiver that trickles its headers or body keeps no request alive past the
limit (timeout_s of the feed, RetryPolicy.timeout_s of a webhook), the failure is reported as retryable with
the limit named, and a scheduler delivering to such a receiver still stops within seconds of SIGTERM.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from hostile_fixtures import (  # noqa: F401
    baseline,
    child_env,
    loaded,
    loaded_scratch,
    octracker_command,
    run_octracker,
)

from octracker.alerts.webhooks import RetryPolicy, deliver_message
from octracker.content.feed_specs import FeedSpec
from octracker.httpclient import new_client
from octracker.load.feeds import FeedFailed, fetch_feed
from octracker.load.inbox import INBOX_PIPELINE
from octracker.schedule.scheduler import ALERTS_JOB, ScheduledJobs, build_scheduler, find_alert_sender
from published import read_rows

TOKEN = "tok-9f8e7d6c5b4a"
#: A table for a place no bundled source states.
PORT_TABLE = b"indicator,geo,period,value,unit\nshootings,BEANR,2024,7,count\n"


class TricklingServer:
    """A loopback HTTP server that sends its answer a piece at a time, `every` seconds apart, for ever."""

    def __init__(self, head: bytes, pieces: Iterator[bytes], every: float) -> None:
        self.head, self.pieces, self.every = head, pieces, every
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.serving = threading.Thread(target=self._serve, daemon=True)
        self.serving.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                conn.sendall(self.head)
                for piece in self.pieces():
                    if self.stop.wait(self.every):
                        return
                    conn.sendall(piece)

    def close(self) -> None:
        self.stop.set()
        # Closed once the accept loop has seen `stop` (within its 0.2 s timeout), not under its feet.
        self.serving.join(timeout=5)
        self.sock.close()


def endless(piece: bytes):
    return lambda: iter(lambda: piece, None)


@pytest.fixture
def header_trickler():
    server = TricklingServer(b"HTTP/1.1 200 OK\r\n", endless(b"X-Slow: 1\r\n"), every=0.3)
    yield server
    server.close()


@pytest.fixture
def body_trickler():
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nindicator,geo\r\n"
    server = TricklingServer(head, endless(b"x"), every=0.3)
    yield server
    server.close()


def test_a_webhook_receiver_trickling_headers_is_cut_off_at_the_overall_limit(header_trickler):
    policy = RetryPolicy(max_attempts=1, timeout_s=2.0)
    started = time.monotonic()
    with new_client(trust_env=False) as client:
        result = deliver_message(
            client, header_trickler.url(f"/hook/{TOKEN}"), msg_id="msg_1", body=b"{}", secret=None, policy=policy
        )
    elapsed = time.monotonic() - started
    assert result.outcome == "retry_later"
    assert "overall limit of 2s" in result.error and TOKEN not in result.error
    # Without the limit it would never end: the margin is a loaded machine's.
    assert elapsed < 20, elapsed


@pytest.mark.parametrize("fixture", ["header_trickler", "body_trickler"])
def test_a_feed_trickling_headers_or_body_fails_at_its_overall_limit(request, fixture):
    server = request.getfixturevalue(fixture)
    spec = FeedSpec(
        url=server.url(f"/feed.csv?token={TOKEN}"),
        allow_http_hosts=["127.0.0.1"],
        timeout_s=2.0,
        max_attempts=2,
        accept=["text/csv"],
    )
    started = time.monotonic()
    with new_client(trust_env=False) as client, pytest.raises(FeedFailed) as caught:
        fetch_feed(client, spec, None, sleep=lambda s: None)
    elapsed = time.monotonic() - started
    assert "overall limit of 2 s" in str(caught.value) and TOKEN not in str(caught.value)
    assert caught.value.attempts == 2 and server.connections == 2
    assert elapsed < 20, elapsed


def stop_while_delivering(settings, receiver: TricklingServer) -> float:
    """Start the alert job, stop it (as SIGTERM does) once it reaches `receiver`: the seconds it took to end."""
    sender, why_not = find_alert_sender()
    assert sender is not None, why_not
    jobs = ScheduledJobs(settings)
    job = threading.Thread(target=jobs.send_alerts, args=[sender])
    job.start()
    deadline = time.monotonic() + 60
    while receiver.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver.connections >= 1, "the alert job never reached the receiver"
    stop_at = time.monotonic()
    jobs.stopping.set()  # what SIGTERM does
    job.join(timeout=60)
    assert not job.is_alive()
    return time.monotonic() - stop_at


def test_the_scheduler_stops_within_seconds_while_delivering_to_a_trickling_receiver(
    loaded, header_trickler, monkeypatch
):
    monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", header_trickler.url(f"/hook/{TOKEN}"))
    monkeypatch.delenv("OCTRACKER_WEBHOOK_SECRET", raising=False)
    # One attempt's overall limit (10 s) at most and a loaded machine's margin, not six attempts and their backoff
    # (over a minute) for every event.
    assert stop_while_delivering(loaded, header_trickler) < 30


def test_a_scheduler_stopped_while_delivering_posts_nothing_to_alertmanager_after(loaded, header_trickler, monkeypatch):
    alertmanager = TricklingServer(b"HTTP/1.1 200 OK\r\n", endless(b"X-Slow: 1\r\n"), every=0.3)
    try:
        monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", header_trickler.url(f"/hook/{TOKEN}"))
        monkeypatch.setenv("OCTRACKER_ALERTMANAGER_URL", alertmanager.url())
        monkeypatch.delenv("OCTRACKER_WEBHOOK_SECRET", raising=False)
        stop_while_delivering(loaded, header_trickler)
        assert alertmanager.connections == 0
    finally:
        alertmanager.close()


def test_debug_logs_of_a_webhook_carry_no_user_password_path_or_query(header_trickler, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://bot:{TOKEN}@127.0.0.1:{header_trickler.port}/hook/{TOKEN}?key={TOKEN}"
    with new_client(trust_env=False) as client:
        deliver_message(client, url, msg_id="msg_1", body=b"{}", secret=None, policy=RetryPolicy(1, timeout_s=1.0))
    assert caplog.records, "nothing was logged"
    assert TOKEN not in caplog.text and "bot" not in caplog.text


def test_a_trickling_receiver_holds_back_no_inbox_run_of_the_scheduler(loaded, header_trickler, monkeypatch):
    monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", header_trickler.url(f"/hook/{TOKEN}"))
    monkeypatch.delenv("OCTRACKER_WEBHOOK_SECRET", raising=False)
    jobs = ScheduledJobs(loaded)
    never = "0 0 1 1 *"  # each job fires only when the test says
    scheduler = build_scheduler(
        jobs, [], now=dt.datetime.now(dt.UTC), last_successes={}, inbox_cron=never, alerts_cron=never
    )
    scheduler.start()
    try:
        scheduler.get_job(ALERTS_JOB).modify(next_run_time=dt.datetime.now(dt.UTC))
        deadline = time.monotonic() + 60
        while header_trickler.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert header_trickler.connections >= 1, "the alert job never reached the receiver"
        # The receiver now holds the delivery (six attempts of up to 10 s each, and the waits between them).
        loaded.inbox_dir.mkdir(exist_ok=True)
        (loaded.inbox_dir / "port.csv").write_bytes(PORT_TABLE)
        dropped = time.monotonic()
        scheduler.get_job(INBOX_PIPELINE).modify(next_run_time=dt.datetime.now(dt.UTC))
        loaded_value = "SELECT value FROM observations WHERE indicator_id = 'shootings' AND geo = 'BEANR'"
        while read_rows(loaded.published_path, loaded_value) != [(7.0,)] and time.monotonic() - dropped < 60:
            time.sleep(0.2)
        waited = time.monotonic() - dropped
        assert read_rows(loaded.published_path, loaded_value) == [(7.0,)]
        # Behind the delivery, it would have waited over a minute; a loaded machine's refresh takes seconds.
        assert waited < 40, f"the inbox run waited {waited:.0f} s behind the delivery"
    finally:
        stop_at = time.monotonic()
        jobs.stopping.set()
        scheduler.shutdown(wait=True)
    assert time.monotonic() - stop_at < 30


def add_slow_feed(settings, server: TricklingServer, *, timeout_s: int, max_attempts: int) -> None:
    (settings.pipelines_dir / "slow_feed.toml").write_text(
        textwrap.dedent(f"""\
        extractor = "observations_long"
        [source]
        source_id = "slow-feed"
        publisher = "Slow Statistics"
        [feed]
        url = "{server.url(f"/feed.csv?token={TOKEN}")}"
        format = "csv"
        allow_http_hosts = ["127.0.0.1"]
        timeout_s = {timeout_s}
        max_attempts = {max_attempts}
        """),
        encoding="utf-8",
    )


def test_a_trickling_feed_holds_no_writer_while_it_is_fetched(loaded_scratch, body_trickler):
    settings = loaded_scratch
    # A limit long enough for the other writer's process to start and finish on a loaded machine.
    add_slow_feed(settings, body_trickler, timeout_s=30, max_attempts=1)
    feed = subprocess.Popen(
        octracker_command(settings, "refresh", "slow_feed"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while body_trickler.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert body_trickler.connections == 1, "the feed was never fetched"
        fetching = time.monotonic()
        # While the feed trickles in, another writer gets the warehouse at once (it waits 1 s at most).
        settings.inbox_dir.mkdir(exist_ok=True)
        (settings.inbox_dir / "port.csv").write_bytes(PORT_TABLE)
        other = run_octracker(settings, "refresh", "inbox", OCTRACKER_LOCK_TIMEOUT="1")
        assert time.monotonic() - fetching < 30, "the feed's fetch ended before the other writer was tried"
        assert other.returncode == 0, other.stderr
        out, err = feed.communicate(timeout=60)
    finally:
        feed.kill()
    assert feed.returncode == 0, err  # unreachable: its last data kept, exit 0 without --strict
    assert "overall limit of 30 s" in err and TOKEN not in err
    assert read_rows(
        settings.published_path, "SELECT value FROM observations WHERE indicator_id = 'shootings' AND geo = 'BEANR'"
    ) == [(7.0,)]
    assert read_rows(settings.published_path, "SELECT status FROM runs WHERE pipeline = 'slow_feed'") == [
        ("unreachable",)
    ]


def test_the_scheduler_stops_within_one_attempt_while_a_feed_trickles(loaded_scratch, body_trickler):
    settings = loaded_scratch
    # Four attempts of 3 s and the waits between them (1, 2, 4 s): about 19 s if nothing stopped it.
    add_slow_feed(settings, body_trickler, timeout_s=3, max_attempts=4)
    runs = "SELECT COUNT(*) FROM runs WHERE pipeline = 'slow_feed'"
    jobs = ScheduledJobs(settings)
    job = threading.Thread(target=jobs.run_pipelines, args=[["slow_feed"]])
    job.start()
    deadline = time.monotonic() + 60
    while body_trickler.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert body_trickler.connections == 1, "the feed was never fetched"
    stop_at = time.monotonic()
    jobs.stopping.set()  # what SIGTERM does
    job.join(timeout=60)
    assert not job.is_alive()
    # Within the attempt under way (3 s) and a loaded machine's margin, not the 15 s of the attempts left.
    assert time.monotonic() - stop_at < 10
    assert body_trickler.connections == 1  # no attempt after the stop
    # Nothing was run or recorded for it: the next start finds it overdue and runs it.
    assert read_rows(settings.published_path, runs) == [(0,)]

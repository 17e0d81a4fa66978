"""Delivering alert events to webhooks, at most once each in effect, with the outbox as the ledger.

One `send_alerts` call:
1. plans events (new / changed / resolved alerts) and claims the due deliveries, under the writer lock;
2. for each claimed delivery, POSTs it (retries inside `webhooks.deliver_message`) without holding the lock,
   then records the outcome under the lock at once.
A claim is recorded (status `sending`) before its request goes out, and its `webhook_id` was stored when the
delivery was owed, so a process that dies between the POST and the record leaves a `sending` row that the
next send posts again with the same `webhook-id`: a receiver that keeps the ids it has seen drops the repeat.
Only one `alerts send` runs at a time (a lock file beside the warehouse), so a `sending` row found at the
start is always such a leftover.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from octracker.alerts.alertmanager import ALERTMANAGER_RETRY, AlertmanagerReport, sync_alertmanager
from octracker.alerts.outbox import PlannedEvents, Webhook, plan_alert_events, webhook_key
from octracker.alerts.webhooks import DeliveryResult, RetryPolicy, deliver_message, redact_url
from octracker.errors import UsageError, WarehouseBusy
from octracker.store.settings import Settings
from octracker.store.warehouse import open_writer, writer_session

log = logging.getLogger("octracker.alerts.deliveries")


@dataclass(frozen=True)
class Claim:
    """One delivery taken for sending in this run."""

    event_id: str
    event_type: str
    fingerprint: str
    webhook: str
    webhook_id: str
    payload: str


@dataclass
class SendReport:
    """What one send did; `problems` are already safe to print (no URL)."""

    planned: PlannedEvents = field(default_factory=PlannedEvents)
    delivered: int = 0
    rejected: int = 0
    pending: int = 0  # for a configured webhook, still to go (retry later, or waiting for Retry-After)
    unconfigured: int = 0  # pending for a webhook no longer in OCTRACKER_WEBHOOK_URL
    problems: list[str] = field(default_factory=list)
    #: What Alertmanager was told, when OCTRACKER_ALERTMANAGER_URL is set.
    alertmanager: AlertmanagerReport | None = None

    @property
    def exit_code(self) -> int:
        failed_alertmanager = self.alertmanager is not None and self.alertmanager.error is not None
        return 1 if self.rejected or self.pending or failed_alertmanager else 0


def configured_webhooks(urls: list[str]) -> list[Webhook]:
    """The webhooks as the tables know them: URL hash and redacted label (the URL stays in memory only)."""
    if not urls:
        raise UsageError("no webhook configured: set OCTRACKER_WEBHOOK_URL to one or more URLs, separated by spaces")
    return [Webhook(url=url, key=webhook_key(url), label=redact_url(url)) for url in urls]


@contextlib.contextmanager
def sender_lock(settings: Settings) -> Iterator[None]:
    """One `alerts send` at a time, so a claim found at the start belongs to a process that died."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / ".alerts-send.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy("another `octracker alerts send` is running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def send_alerts(
    settings: Settings,
    webhooks: list[Webhook],
    secret: str | None,
    *,
    client: httpx.Client,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], bool | None] = time.sleep,
    clock: Callable[[], float] = time.time,
    alertmanager_url: str | None = None,
    report_url: str | None = None,
    alertmanager_policy: RetryPolicy = ALERTMANAGER_RETRY,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Plan events for new, changed and resolved alerts and deliver what is owed to each configured webhook.

    With `alertmanager_url`, Alertmanager is brought up to date too (see `octracker.alerts.alertmanager`), its
    alerts linking to `report_url`. `sleep` and `clock` (seconds since the epoch) let a test run hours of
    retries in simulated time. Once `should_stop()` is true (or `sleep` returns True) no further message is
    posted: the rest stay pending.
    """
    report = SendReport()

    def clock_now() -> dt.datetime:
        return dt.datetime.fromtimestamp(clock(), dt.UTC).replace(tzinfo=None)

    by_key = {w.key: w for w in webhooks}
    with sender_lock(settings):
        # Load inputs.
        with writer_session(settings, publish_after=False) as (con, _):
            report.planned = plan_alert_events(con, webhooks, clock_now())
            claims = claim_deliveries(con, list(by_key), clock_now())
        # Process data.
        failed_webhooks: set[str] = set()
        for claim in claims:
            webhook = by_key[claim.webhook]
            if claim.webhook in failed_webhooks:
                continue  # keeps its order: it goes after the one that failed, at the next send
            if should_stop():
                break  # released below, untouched: the next send takes them
            started = clock_now()
            result = deliver_message(
                client,
                webhook.url,
                msg_id=claim.webhook_id,
                body=claim.payload.encode(),
                secret=secret,
                policy=policy,
                sleep=sleep,
                clock=clock,
            )
            with open_writer(settings) as con:
                record_outcome(con, claim, result, started=started, now=clock_now())
            if result.outcome == "delivered":
                report.delivered += 1
            elif result.outcome == "rejected":
                report.rejected += 1
                report.problems.append(
                    f"webhook {webhook.key} ({webhook.label}) rejected {claim.event_type} {claim.event_id} "
                    f"(webhook-id {claim.webhook_id}): {result.error}; not retried, fix the receiver or the "
                    "payload it refuses"
                )
            else:
                failed_webhooks.add(claim.webhook)
                report.problems.append(
                    f"webhook {webhook.key} ({webhook.label}) did not take {claim.event_type} {claim.event_id} "
                    f"after {result.attempts} attempt(s): {result.error}; it stays pending for the next send"
                )
        if alertmanager_url is not None and not should_stop():
            report.alertmanager = sync_alertmanager(
                settings,
                alertmanager_url,
                client=client,
                now=clock_now,
                generator_url=report_url,
                policy=alertmanager_policy,
                sleep=sleep,
                clock=clock,
            )
            if report.alertmanager.error:
                report.problems.append(report.alertmanager.error)
        # Save outputs.
        with writer_session(settings) as (con, _):
            release_claims(con)
            report.pending, report.unconfigured = count_pending(con, list(by_key))
    return report


def claim_deliveries(con, webhook_keys: list[str], now: dt.datetime) -> list[Claim]:
    """Mark every due delivery for these webhooks `sending` (committed before any request) and return them in order.

    Due: pending or `sending` (left by a process that died), of a webhook none of whose deliveries waits for a
    next attempt time still to come: the one that failed first goes first, and the others wait behind it, so
    a webhook gets its events in order and a receiver that is down is not tried again before its time.
    """
    if not webhook_keys:
        return []
    marks = ", ".join("?" * len(webhook_keys))
    due = (
        f"d.webhook IN ({marks}) AND d.status IN ('pending', 'sending') AND NOT EXISTS ("
        "SELECT 1 FROM alert_deliveries AS w WHERE w.webhook = d.webhook AND w.status = 'pending' "
        "AND w.next_attempt_at > ?)"
    )
    rows = con.execute(
        f"""
        SELECT d.event_id, e.event_type, e.fingerprint, d.webhook, d.webhook_id, e.payload
        FROM alert_deliveries AS d JOIN alert_events AS e USING (event_id)
        WHERE {due}
        ORDER BY e.created_at, e.fingerprint, e.version, d.webhook
        """,
        [*webhook_keys, now],
    ).fetchall()
    claims = [Claim(*row) for row in rows]
    if claims:
        con.execute(f"UPDATE alert_deliveries AS d SET status = 'sending' WHERE {due}", [*webhook_keys, now])
    return claims


def record_outcome(con, claim: Claim, result: DeliveryResult, *, started: dt.datetime, now: dt.datetime) -> None:
    """Write what one delivery call ended in; a transient failure stays pending with its next attempt time."""
    status = {"delivered": "delivered", "rejected": "rejected"}.get(result.outcome, "pending")
    next_at = None
    if result.outcome == "retry_later" and result.next_attempt_after is not None:
        next_at = dt.datetime.fromtimestamp(result.next_attempt_after, dt.UTC).replace(tzinfo=None)
    con.execute(
        "UPDATE alert_deliveries SET status = ?, attempts = attempts + ?, next_attempt_at = ?, last_attempt_at = ?, "
        "last_status = ?, last_error = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END "
        "WHERE event_id = ? AND webhook = ?",
        [
            status,
            result.attempts,
            next_at,
            started,
            result.last_status,
            result.error,
            status,
            now,
            claim.event_id,
            claim.webhook,
        ],
    )


def release_claims(con) -> None:
    """Claims this run did not get to (their webhook failed first) go back to pending, untouched."""
    con.execute("UPDATE alert_deliveries SET status = 'pending' WHERE status = 'sending'")


def count_pending(con, webhook_keys: list[str]) -> tuple[int, int]:
    """(pending for the configured webhooks, pending for webhooks no longer configured)."""
    if not webhook_keys:
        return 0, con.execute("SELECT COUNT(*) FROM alert_deliveries WHERE status = 'pending'").fetchone()[0]
    marks = ", ".join("?" * len(webhook_keys))
    return con.execute(
        f"SELECT COUNT(*) FILTER (WHERE webhook IN ({marks})), COUNT(*) FILTER (WHERE webhook NOT IN ({marks})) "
        "FROM alert_deliveries WHERE status = 'pending'",
        [*webhook_keys, *webhook_keys],
    ).fetchone()

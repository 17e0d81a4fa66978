"""Alertmanager's v2 API: the body that tells it about an open or resolved alert, and when to tell it again.

Alertmanager forgets a firing alert at its `endsAt`; a sender that keeps an alert alive posts it again before
then (Prometheus does the same every evaluation). Here every alert is posted with `endsAt` = now + a lifetime,
and posted again once less than half of that lifetime is left; a resolved alert is posted once more with
`endsAt` = the moment it resolved, which ends it at once. Alertmanager identifies an alert by its labels, so
posting the same one again only refreshes it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import duckdb
import httpx

from octracker.alerts.outbox import content_hash, read_open_alerts, sha256_hex
from octracker.alerts.webhooks import RetryPolicy, deliver_message, redact_url
from octracker.content.documents import stated_date
from octracker.errors import UsageError
from octracker.httpclient import is_http_url
from octracker.store.settings import Settings
from octracker.store.warehouse import open_writer
from octracker.store.writers import write_transaction

URL_ENV = "OCTRACKER_ALERTMANAGER_URL"
REPORT_URL_ENV = "OCTRACKER_REPORT_URL"
ALERTS_PATH = "/api/v2/alerts"
#: How long Alertmanager keeps an alert firing without hearing of it again: long enough to outlast a few missed
#: sends of the scheduler's alerts job, short enough that an octracker that stopped does not leave alerts open.
DEFAULT_LIFETIME = dt.timedelta(hours=24)
#: A few quick tries per send: an alert not taken now is planned again by the next send anyway.
ALERTMANAGER_RETRY = RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=5.0)
#: Every alert carries this label, so an operator's route can pick octracker's alerts from the others.
SERVICE_LABEL = ("service", "octracker")


class AlertmanagerConfigError(UsageError):
    """The Alertmanager or report URL is unusable; fix the setting and run again."""


def alertmanager_url_from_env(environ: Mapping[str, str]) -> str | None:
    """The base URL in `OCTRACKER_ALERTMANAGER_URL` (e.g. `http://127.0.0.1:9093`), checked; None when unset."""
    value = environ.get(URL_ENV, "").strip()
    if not value:
        return None
    return _checked_base_url(value, URL_ENV, "http://127.0.0.1:9093")


def report_url_from_env(environ: Mapping[str, str]) -> str | None:
    """Where the HTML report is published (`OCTRACKER_REPORT_URL`), for the alerts' `generatorURL`; None when unset."""
    value = environ.get(REPORT_URL_ENV, "").strip()
    if not value:
        return None
    return _checked_base_url(value, REPORT_URL_ENV, "https://reports.example.org/octracker/")


def _checked_base_url(value: str, env: str, example: str) -> str:
    # The URL split once it is known to be one: its query and fragment must both be empty.
    if not is_http_url(value) or any(urlsplit(value)[3:]):
        raise AlertmanagerConfigError(f"{env} must be an http(s) URL with a host and no query, like {example}")
    return value


def alerts_endpoint(base_url: str) -> str:
    """The v2 alerts endpoint under a base URL (a route prefix such as `/alertmanager` is kept)."""
    return base_url.rstrip("/") + ALERTS_PATH


def rfc3339(moment: dt.datetime) -> str:
    """A UTC moment as Alertmanager reads it (`2026-12-03T01:02:03Z`); a naive moment is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def alert_labels(content: Mapping) -> dict[str, str]:
    """The labels that identify an alert to Alertmanager: the same alert always has the same ones."""
    return {
        "alertname": str(content["rule"]),
        "indicator_id": str(content["indicator"]),
        "geo": str(content["geo"]),
        "severity": str(content["severity"]),
        "fingerprint": str(content["fingerprint"]),
        SERVICE_LABEL[0]: SERVICE_LABEL[1],
    }


def _number_text(value) -> str:
    if isinstance(value, float) and value == round(value) and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def alert_summary(content: Mapping) -> str:
    """One line: which series, which period, and how far it moved (for notification titles)."""
    name = content.get("indicator_name") or content["indicator"]
    period = content.get("period") or content.get("year")
    values = content.get("values") or {}
    figures = ""
    if values.get("value") is not None and values.get("unit") == "score":
        # Index scores as the index prints them, with two decimals: "score 6.00 (was 5.00)".
        figures = f": score {values['value']:.2f}"
        if values.get("prev_value") is not None:
            figures += f" (was {values['prev_value']:.2f})"
    elif values.get("value") is not None:
        unit = values.get("unit")
        unit_text = f" {unit}" if unit and unit != "count" else ""
        figures = f": {_number_text(values['value'])}{unit_text}"
        if values.get("prev_value") is not None:
            figures += f" (was {_number_text(values['prev_value'])}{unit_text})"
    return f"{name} ({content['geo']}) {period}{figures} [{content['rule']}, {content['severity']}]"


def describe_source(source: Mapping) -> str:
    """`title (publisher, published 2024-05-01) <url>` with what the source record has.

    The publication date says as much as the source states: `published 2025` for a year, none when unknown.
    """
    title = source.get("title") or source.get("source_id")
    published = None
    if source.get("published_on"):
        stated = stated_date(dt.date.fromisoformat(source["published_on"]), source.get("published_precision", "day"))
        published = None if stated == "unknown" else f"published {stated}"
    details = [d for d in (source.get("publisher"), published) if d]
    text = f"{source.get('source_id')}: {title}" if title != source.get("source_id") else str(title)
    if details:
        text += f" ({', '.join(details)})"
    if source.get("url"):
        text += f" <{source['url']}>"
    return text


def alert_description(content: Mapping) -> str:
    """The alert's message (it states the values and what to do next), then the sources it cites."""
    sources = [describe_source(s) for s in content.get("sources") or []]
    text = str(content["message"])
    if sources:
        text += "\nSources:\n" + "\n".join(f"- {s}" for s in sources)
    return text


def alertmanager_alert(
    content: Mapping,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    generator_url: str | None = None,
) -> dict:
    """One element of the list POSTed to `/api/v2/alerts`.

    For a firing alert `ends_at` lies in the future (when Alertmanager may forget it unless posted again);
    for a resolved one it is the moment it resolved.
    """
    alert = {
        "labels": alert_labels(content),
        "annotations": {"summary": alert_summary(content), "description": alert_description(content)},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at),
    }
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


def repost_due(last_ends_at: dt.datetime | None, now: dt.datetime, lifetime: dt.timedelta = DEFAULT_LIFETIME) -> bool:
    """True when a firing alert must be posted again: never posted, or less than half its lifetime left."""
    return last_ends_at is None or last_ends_at - now < lifetime / 2


# --- Keeping Alertmanager up to date ----------------------------------------------------------------------------


@dataclass
class PlannedPosts:
    """What one send tells Alertmanager: the alert bodies, and the rows that record them once it took them."""

    bodies: list[dict] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    opened: int = 0  # firing for the first time (or again, after it ended)
    changed: int = 0  # firing with new values, severity or wording
    refreshed: int = 0  # posted again before Alertmanager would forget it
    ended: int = 0  # resolved or muted: posted with endsAt = now

    @property
    def firing(self) -> int:
        return self.opened + self.changed + self.refreshed


@dataclass
class AlertmanagerReport:
    """What one send to Alertmanager did; `error` is safe to print (no URL path or query)."""

    planned: PlannedPosts = field(default_factory=PlannedPosts)
    delivered: bool = False
    error: str | None = None


def plan_posts(
    con: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    *,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    generator_url: str | None = None,
) -> PlannedPosts:
    """Compare the open alerts (muted ones are not open) with what Alertmanager was told, and plan the posts.

    New, changed and soon-expiring alerts are posted firing until now + `lifetime`; alerts that resolved or
    were muted are posted once more with endsAt = now. A changed severity is a new label set to Alertmanager,
    so the old one is ended in the same post.
    """
    current = read_open_alerts(con)
    known = {
        r[0]: {"status": r[1], "content_hash": r[2], "content": json.loads(r[3]), "starts_at": r[4], "ends_at": r[5]}
        for r in con.execute(
            "SELECT fingerprint, status, content_hash, alert_json, starts_at, ends_at FROM alertmanager_alerts"
        ).fetchall()
    }
    plan = PlannedPosts()

    def post(content: dict, digest: str, status: str, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
        plan.bodies.append(
            alertmanager_alert(content, starts_at=starts_at, ends_at=ends_at, generator_url=generator_url)
        )
        plan.rows.append(
            {
                "fingerprint": content["fingerprint"],
                "status": status,
                "content_hash": digest,
                "alert_json": json.dumps(content, ensure_ascii=False, default=str),
                "starts_at": starts_at,
                "ends_at": ends_at,
                "posted_at": now,
            }
        )

    def end(last: dict) -> None:
        plan.bodies.append(
            alertmanager_alert(last["content"], starts_at=last["starts_at"], ends_at=now, generator_url=generator_url)
        )

    for fingerprint, content in current.items():
        digest = content_hash(content)
        last = known.get(fingerprint)
        if last is None or last["status"] == "ended":
            post(content, digest, "firing", now, now + lifetime)
            plan.opened += 1
        elif last["content_hash"] != digest:
            if alert_labels(last["content"]) != alert_labels(content):
                end(last)
            post(content, digest, "firing", last["starts_at"], now + lifetime)
            plan.changed += 1
        elif repost_due(last["ends_at"], now, lifetime):
            post(content, digest, "firing", last["starts_at"], now + lifetime)
            plan.refreshed += 1
    for fingerprint, last in known.items():
        if last["status"] == "firing" and fingerprint not in current:
            end(last)
            plan.rows.append(
                {
                    "fingerprint": fingerprint,
                    "status": "ended",
                    "content_hash": last["content_hash"],
                    "alert_json": json.dumps(last["content"], ensure_ascii=False, default=str),
                    "starts_at": last["starts_at"],
                    "ends_at": now,
                    "posted_at": now,
                }
            )
            plan.ended += 1
    return plan


def record_posts(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Remember what Alertmanager accepted, one row per fingerprint, in one transaction."""
    if not rows:
        return

    def write() -> None:
        marks = ", ".join("?" * len(rows))
        con.execute(f"DELETE FROM alertmanager_alerts WHERE fingerprint IN ({marks})", [r["fingerprint"] for r in rows])
        con.executemany(
            "INSERT INTO alertmanager_alerts (fingerprint, status, content_hash, alert_json, starts_at, ends_at, "
            "posted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    r["fingerprint"],
                    r["status"],
                    r["content_hash"],
                    r["alert_json"],
                    r["starts_at"],
                    r["ends_at"],
                    r["posted_at"],
                ]
                for r in rows
            ],
        )

    write_transaction(con, write, what="Alertmanager alerts")


def post_alerts(
    client: httpx.Client,
    base_url: str,
    bodies: list[dict],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], bool | None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> str | None:
    """POST the bodies to Alertmanager in one request, retrying transient failures; None when it took them.

    The same request, redirects refused, bounded replies and redacted errors as a webhook delivery.
    """
    body = json.dumps(bodies, ensure_ascii=False).encode("utf-8")
    result = deliver_message(
        client,
        alerts_endpoint(base_url),
        msg_id="am_" + sha256_hex(body.decode())[:24],
        body=body,
        secret=None,
        policy=policy,
        sleep=sleep,
        clock=clock,
    )
    if result.outcome == "delivered":
        return None
    kept = (
        "it refused them; fix what it names in its log"
        if result.outcome == "rejected"
        else "they are posted again at the next send"
    )
    return (
        f"Alertmanager ({redact_url(base_url)}) did not take {len(bodies)} alert(s) after {result.attempts} "
        f"attempt(s): {result.error}; {kept}"
    )


def sync_alertmanager(
    settings: Settings,
    base_url: str,
    *,
    client: httpx.Client,
    now: Callable[[], dt.datetime],
    generator_url: str | None = None,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], bool | None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> AlertmanagerReport:
    """Plan under the writer lock, post without it, then record what Alertmanager took (nothing, if it failed).

    The caller has brought the warehouse up to date and publishes it afterwards. A post that fails is planned
    again by the next send: posting an alert Alertmanager already holds only refreshes it.
    """
    report = AlertmanagerReport()
    with open_writer(settings) as con:
        report.planned = plan_posts(con, now(), lifetime=lifetime, generator_url=generator_url)
    if not report.planned.bodies:
        return report
    report.error = post_alerts(client, base_url, report.planned.bodies, policy=policy, sleep=sleep, clock=clock)
    if report.error is None:
        report.delivered = True
        with open_writer(settings) as con:
            record_posts(con, report.planned.rows)
    return report

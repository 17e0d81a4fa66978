"""Alert events: the open trend alerts compared with the outbox become alert.opened / changed / resolved events.

The `trend_alerts` view says what is true now; the `alert_outbox` table says what the webhooks were last
told. Planning events is the difference between the two, written in one transaction together with the
delivery rows (one per event and configured webhook) that `deliveries.send_alerts` then works through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import duckdb
import polars as pl

from octracker.alerts.silences import muted_fingerprints
from octracker.store.writers import write_transaction

OPENED, CHANGED, RESOLVED = "alert.opened", "alert.changed", "alert.resolved"

#: The columns of trend_alerts an event carries.
ALERT_COLUMNS = (
    "fingerprint",
    "rule",
    "check_name",
    "severity",
    "indicator_id",
    "indicator_name",
    "unit",
    "geo",
    "year",
    "period",
    "value",
    "prev_year",
    "prev_value",
    "change",
    "pct_change",
    "basis",
    "annualized_value",
    "message",
    "source_ids",
    "provisional",
)


@dataclass(frozen=True)
class Webhook:
    """One configured receiver. `url` may hold a token: it is used to send and never stored, logged or shown."""

    url: str = field(repr=False)
    key: str  # hash of the URL: the webhook's identity in the tables
    label: str  # the redacted URL (scheme, host, port), for people


@dataclass
class PlannedEvents:
    """How many events of each type one planning step wrote."""

    opened: int = 0
    changed: int = 0
    resolved: int = 0

    @property
    def total(self) -> int:
        return self.opened + self.changed + self.resolved


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def webhook_key(url: str) -> str:
    """A webhook's identity in the tables: a hash of its URL, so the URL (and any token in it) is not stored."""
    return "wh_" + sha256_hex(url)[:16]


def iso_utc(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _number(value):
    # Payloads carry values a person would quote, not float noise (22.222222222222225).
    return round(value, 6) if isinstance(value, float) else value


def alert_content(row: dict, sources: dict[str, dict]) -> dict:
    """The part of an alert that makes it what it is: a change here (severity, values, message) is news."""
    return {
        "fingerprint": row["fingerprint"],
        "rule": row["rule"],
        "check": row["check_name"],
        "severity": row["severity"],
        "indicator": row["indicator_id"],
        "indicator_name": row["indicator_name"],
        "geo": row["geo"],
        "year": row["year"],
        "period": row["period"],
        "values": {
            "value": _number(row["value"]),
            "prev_value": _number(row["prev_value"]),
            "prev_year": row["prev_year"],
            "change": _number(row["change"]),
            "pct_change": _number(row["pct_change"]),
            "unit": row["unit"],
            "basis": row["basis"],
            "annualized_value": _number(row["annualized_value"]),
        },
        "message": row["message"],
        # True when the alert cites a value the publisher marks provisional (flag p); the message says which.
        "provisional": bool(row["provisional"]),
        "sources": [sources.get(s, {"source_id": s}) for s in row["source_ids"] or []],
    }


def content_hash(content: dict) -> str:
    # An alert citing no provisional value hashes as it did before alerts said so: none is re-announced for it.
    hashed = {k: v for k, v in content.items() if not (k == "provisional" and v is False)}
    return sha256_hex(json.dumps(hashed, sort_keys=True, ensure_ascii=False, default=str))


def event_payload(event_type: str, event_id: str, version: int, content: dict, occurred_at: dt.datetime) -> str:
    """The JSON body every webhook receives for one event (documented in docs/operators.md, "Alert payload")."""
    body = {
        "type": event_type,
        "event_id": event_id,
        "version": version,
        **content,
        "occurred_at": iso_utc(occurred_at),
    }
    return json.dumps(body, ensure_ascii=False, default=str)


def read_open_alerts(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """The open alerts by fingerprint, each as the content its events carry."""
    cursor = con.execute(f"SELECT {', '.join(ALERT_COLUMNS)} FROM trend_alerts ORDER BY fingerprint")
    rows = [dict(zip(ALERT_COLUMNS, r)) for r in cursor.fetchall()]
    columns = ("source_id", "title", "publisher", "published_on", "published_precision", "url")
    sources = {
        r[0]: dict(zip(columns, (*r[:3], r[3].isoformat() if r[3] else None, *r[4:])))
        for r in con.execute(f"SELECT {', '.join(columns)} FROM sources").fetchall()
    }
    return {row["fingerprint"]: alert_content(row, sources) for row in rows}


def plan_alert_events(
    con: duckdb.DuckDBPyConnection,
    webhooks: list[Webhook],
    now: dt.datetime,
) -> PlannedEvents:
    """Write an event for every new, changed and resolved alert, and the deliveries still owed, in one transaction.

    Deliveries are owed for each new event and, for a webhook that has not had it, the latest event of every
    open alert (so a webhook added later learns what is open). Nothing is sent here.
    """

    def plan() -> PlannedEvents:
        current = read_open_alerts(con)
        # A muted alert is not resolved: its receivers hear nothing until the silence ends.
        muted = muted_fingerprints(con)
        planned = PlannedEvents()
        outbox = {
            r[0]: {"status": r[1], "version": r[2], "content_hash": r[3], "alert_json": r[4]}
            for r in con.execute(
                "SELECT fingerprint, status, version, content_hash, alert_json FROM alert_outbox"
            ).fetchall()
        }
        events = _Events(now)
        for fingerprint, content in current.items():
            known = outbox.get(fingerprint)
            digest = content_hash(content)
            if known is None or known["status"] == "resolved":
                events.add(OPENED, content, digest, known)
                planned.opened += 1
            elif known["content_hash"] != digest:
                events.add(CHANGED, content, digest, known)
                planned.changed += 1
        for fingerprint, known in outbox.items():
            if known["status"] == "open" and fingerprint not in current and fingerprint not in muted:
                last = json.loads(known["alert_json"])
                last["message"] = f"Resolved: the data no longer raise this alert. It said: {last['message']}"
                events.add(RESOLVED, last, known["content_hash"], known)
                planned.resolved += 1
        events.write(con)
        _owe_deliveries(con, webhooks, now)
        return planned

    return write_transaction(con, plan, what="alert events")


EVENT_SCHEMA = pl.Schema(
    {
        "event_id": pl.String(),
        "fingerprint": pl.String(),
        "version": pl.Int32(),
        "event_type": pl.String(),
        "payload": pl.String(),
        "created_at": pl.Datetime("us"),
    }
)
OUTBOX_SCHEMA = pl.Schema(
    {
        "fingerprint": pl.String(),
        "rule": pl.String(),
        "indicator_id": pl.String(),
        "geo": pl.String(),
        "year": pl.Int32(),
        "status": pl.String(),
        "version": pl.Int32(),
        "content_hash": pl.String(),
        "last_event_id": pl.String(),
        "alert_json": pl.String(),
        "opened_at": pl.Datetime("us"),
        "updated_at": pl.Datetime("us"),
    }
)


@dataclass
class _Events:
    """The events of one planning step and the outbox rows they change, written together at the end.

    One statement per table instead of two per event: each statement costs DuckDB's client a millisecond
    or more, which made planning the first events of a large warehouse (hundreds of alerts) take seconds.
    """

    now: dt.datetime
    events: list[dict] = field(default_factory=list)
    opened: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)

    def add(self, event_type: str, content: dict, digest: str, known: dict | None) -> None:
        fingerprint = content["fingerprint"]
        version = (known["version"] if known else 0) + 1
        event_id = "evt_" + sha256_hex(f"{fingerprint}|{version}|{event_type}|{digest}")[:24]
        payload = event_payload(event_type, event_id, version, content, self.now)
        self.events.append(
            {
                "event_id": event_id,
                "fingerprint": fingerprint,
                "version": version,
                "event_type": event_type,
                "payload": payload,
                "created_at": self.now,
            }
        )
        row = {
            "fingerprint": fingerprint,
            "rule": content["rule"],
            "indicator_id": content["indicator"],
            "geo": content["geo"],
            "year": content["year"],
            "status": "resolved" if event_type == RESOLVED else "open",
            "version": version,
            "content_hash": digest,
            "last_event_id": event_id,
            "alert_json": json.dumps(content, ensure_ascii=False, default=str),
            # A resolved alert that opens again is opened now; any other keeps its first opening.
            "opened_at": self.now if known is None or known["status"] == "resolved" else None,
            "updated_at": self.now,
        }
        (self.opened if known is None else self.updated).append(row)

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.events:
            return
        events = pl.DataFrame(self.events, schema=EVENT_SCHEMA)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"INSERT INTO alert_events ({', '.join(EVENT_SCHEMA)}) SELECT * FROM events")
        if self.opened:
            opened = pl.DataFrame(self.opened, schema=OUTBOX_SCHEMA)  # noqa: F841 - read by DuckDB
            con.execute(f"INSERT INTO alert_outbox ({', '.join(OUTBOX_SCHEMA)}) SELECT * FROM opened")
        if self.updated:
            updated = pl.DataFrame(self.updated, schema=OUTBOX_SCHEMA)  # noqa: F841 - read by DuckDB
            con.execute(
                "UPDATE alert_outbox AS o SET status = u.status, version = u.version, content_hash = u.content_hash, "
                "last_event_id = u.last_event_id, alert_json = u.alert_json, updated_at = u.updated_at, "
                "opened_at = COALESCE(u.opened_at, o.opened_at) FROM updated AS u WHERE o.fingerprint = u.fingerprint"
            )


def _owe_deliveries(con: duckdb.DuckDBPyConnection, webhooks: list[Webhook], now: dt.datetime) -> None:
    """A pending delivery for every (event to deliver, configured webhook) that has none yet."""
    if not webhooks:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _webhooks (webhook VARCHAR, webhook_label VARCHAR)")
    con.executemany("INSERT INTO _webhooks VALUES (?, ?)", [[w.key, w.label] for w in webhooks])
    # Events of this step (created now), and the latest event of every open alert.
    con.execute(
        """
        INSERT INTO alert_deliveries
            (event_id, webhook, webhook_label, webhook_id, status, attempts, created_at)
        SELECT e.event_id, w.webhook, w.webhook_label,
               'msg_' || left(sha256(e.event_id || '|' || w.webhook), 24), 'pending', 0, ?
        FROM alert_events AS e
        CROSS JOIN _webhooks AS w
        WHERE (e.created_at = ? OR e.event_id IN (SELECT last_event_id FROM alert_outbox WHERE status = 'open'))
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries AS d WHERE d.event_id = e.event_id AND d.webhook = w.webhook)
        """,
        [now, now],
    )
    con.execute("DROP TABLE _webhooks")

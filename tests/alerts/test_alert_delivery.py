"""`alerts send` against a real HTTP receiver on 127.0.0.1, on a warehouse refreshed from the bundled documents."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from analyst_fixtures import copy_refreshed
from conftest import edit_warehouse
from octracker.alerts import deliveries
from octracker.alerts.deliveries import configured_webhooks, send_alerts
from octracker.alerts.webhooks import RetryPolicy, verify_signature
from octracker.store.settings import Settings
from webhook_receiver import Reply, WebhookReceiver, receiver, refused_port  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM="  # base64 of "secret-key-for-tests"
TOKEN = "t0ken-5ecret"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, timeout_s=2.0, max_retry_after_s=5.0)
# The index moves and resilience falls of the bundled 2025 profiles (see test_bundled_alerts.py); article
# figures add to them once their specs declare them.
INDEX_ALERTS = 24
# Most tests keep three indicators of the bundled data, for speed: BE counterfeit goods +1.00, NL financial
# crimes +1.00, and law enforcement -0.50 in BE and NL.
KEPT = ("oci.trade_in_counterfeit_goods", "oci.financial_crimes", "oci.law_enforcement")
ALERTS = 4


@pytest.fixture
def bundled(tmp_path: Path, refreshed: Settings) -> Settings:
    """A copy of the refreshed warehouse: every bundled alert."""
    return copy_refreshed(refreshed, tmp_path)


@pytest.fixture
def settings(tmp_path: Path, refreshed: Settings) -> Settings:
    """A copy of the refreshed warehouse keeping the 2025 profiles' observations of three indicators (four alerts):
    the index workbook's earlier editions would add record highs and lows of the same indicators."""
    settings = copy_refreshed(refreshed, tmp_path)
    edit_warehouse(
        settings.warehouse,
        "DELETE FROM observation_versions "
        f"WHERE series_id NOT IN (SELECT series_id FROM series_keys WHERE indicator_id IN {KEPT}) "
        "OR load_id IN (SELECT load_id FROM loads WHERE pipeline = 'oci_workbook')",
    )
    return settings


def send(settings, client, *urls, secret=SECRET, sleep=lambda s: None):
    return send_alerts(settings, configured_webhooks(list(urls)), secret, client=client, policy=FAST, sleep=sleep)


def bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests]


def table(settings, sql):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_open_alert_is_delivered_once_signed_with_its_payload(bundled, client, receiver):
    settings = bundled
    [(n_alerts,)] = table(settings, "SELECT COUNT(*) FROM trend_alerts")
    assert n_alerts >= INDEX_ALERTS
    receiver.play(*[Reply(200)] * n_alerts)
    report = send(settings, client, receiver.url(f"/hook/{TOKEN}"))
    assert (report.planned.opened, report.delivered, report.rejected, report.pending) == (n_alerts,) * 2 + (0, 0)
    assert report.exit_code == 0
    assert len(receiver.requests) == n_alerts
    for request in receiver.requests:
        assert verify_signature(SECRET, request.headers, request.body)
        assert not verify_signature(SECRET, request.headers, request.body.replace(b"alert.", b"alarm."))
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == n_alerts
    counterfeit = next(
        b for b in bodies(receiver) if b["indicator"] == "oci.trade_in_counterfeit_goods" and b["geo"] == "BE"
    )
    assert counterfeit["type"] == "alert.opened" and counterfeit["severity"] == "critical"
    assert counterfeit["values"] == {
        "value": 6.0,
        "prev_value": 5.0,
        "prev_year": 2023,
        "change": 1.0,
        "pct_change": 20.0,
        "unit": "score",
        "basis": "edition",
        "annualized_value": None,
    }
    assert counterfeit["sources"][0]["source_id"] == "gitoc-oci-2025-nl-be"
    assert counterfeit["sources"][0]["title"].startswith("Global Organized Crime Index 2025")
    assert "rose 1.00 points, from 5.00 in the 2023 edition to 6.00" in counterfeit["message"]
    assert set(counterfeit) >= {
        "type",
        "fingerprint",
        "rule",
        "severity",
        "indicator",
        "geo",
        "year",
        "values",
        "message",
        "sources",
        "occurred_at",
    }
    # The outbox and the deliveries say the same, and the published copy shows them.
    assert table(settings, "SELECT status, COUNT(*) FROM alert_deliveries GROUP BY ALL") == [("delivered", n_alerts)]
    published = duckdb.connect(str(settings.published_path), read_only=True)
    assert published.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'open'").fetchone() == (n_alerts,)


def test_sending_again_with_nothing_new_sends_nothing(settings, client, receiver):
    receiver.play(*[Reply(200)] * ALERTS)
    send(settings, client, receiver.url())
    report = send(settings, client, receiver.url())
    assert (report.planned.total, report.delivered, report.pending, report.exit_code) == (0, 0, 0, 0)
    assert len(receiver.requests) == ALERTS


def test_500_then_success_retries_with_the_same_webhook_id(settings, client, receiver):
    receiver.play(Reply(500), *[Reply(200)] * ALERTS)
    report = send(settings, client, receiver.url())
    assert (report.delivered, report.exit_code) == (ALERTS, 0)
    first, second = receiver.requests[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    assert table(settings, "SELECT MAX(attempts), SUM(attempts) FROM alert_deliveries") == [(2, ALERTS + 1)]


def test_429_waits_for_retry_after(settings, client, receiver):
    waits = []
    receiver.play(Reply(429, headers={"Retry-After": "2"}), *[Reply(200)] * ALERTS)
    report = send(settings, client, receiver.url(), sleep=waits.append)
    assert report.delivered == ALERTS
    assert waits == [2.0]
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_permanent_400_is_reported_not_retried_and_the_others_go(settings, client, receiver):
    receiver.play(Reply(400, reason="Bad Request"), *[Reply(200)] * ALERTS)
    url = receiver.url(f"/hook/{TOKEN}?key={TOKEN}")
    report = send(settings, client, url)
    assert (report.rejected, report.delivered, report.exit_code) == (1, ALERTS - 1, 1)
    [problem] = report.problems
    assert "rejected alert.opened" in problem and "status 400" in problem
    assert TOKEN not in problem and "/hook" not in problem
    rejected = table(settings, "SELECT last_status, attempts FROM alert_deliveries WHERE status = 'rejected'")
    assert rejected == [(400, 1)]
    # Not sent again: a refusal is for good.
    again = send(settings, client, url)
    assert (again.delivered, again.rejected, again.exit_code) == (0, 0, 0)
    assert len(receiver.requests) == ALERTS


def test_receiver_down_keeps_everything_pending_for_the_next_send_with_the_same_ids(settings, client):
    port = refused_port()
    url = f"http://127.0.0.1:{port}/hook/{TOKEN}"
    report = send(settings, client, url)
    assert (report.delivered, report.pending, report.exit_code) == (0, ALERTS, 1)
    # One webhook failing stops this run's tries to it: the other events wait, in order, untried.
    assert len(report.problems) == 1 and "stays pending" in report.problems[0] and TOKEN not in report.problems[0]
    assert table(settings, "SELECT status, COUNT(*) FROM alert_deliveries GROUP BY ALL") == [("pending", ALERTS)]
    stored_ids = {r[0] for r in table(settings, "SELECT webhook_id FROM alert_deliveries")}
    back = WebhookReceiver(port)
    back.start()
    try:
        back.play(*[Reply(200)] * ALERTS)
        report = send(settings, client, url)
    finally:
        back.stop()
    assert (report.planned.total, report.delivered, report.pending, report.exit_code) == (0, ALERTS, 0, 0)
    assert {r.headers["webhook-id"] for r in back.requests} == stored_ids


def test_crash_between_send_and_record_resends_with_the_same_webhook_id(settings, client, receiver, monkeypatch):
    receiver.play(*[Reply(200)] * (ALERTS + 1))
    real_record = deliveries.record_outcome

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the POST, before the outcome is written

    monkeypatch.setattr(deliveries, "record_outcome", crash)
    with pytest.raises(KeyboardInterrupt):
        send(settings, client, receiver.url())
    assert table(settings, "SELECT COUNT(*) FROM alert_deliveries WHERE status = 'sending'") == [(ALERTS,)]
    monkeypatch.setattr(deliveries, "record_outcome", real_record)
    report = send(settings, client, receiver.url())
    assert (report.delivered, report.exit_code) == (ALERTS, 0)
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    # The one sent before the crash went again with its id (a receiver drops it); every other went once.
    assert sorted(ids.values()) == [1] * (ALERTS - 1) + [2]


def test_changed_and_resolved_alerts_are_sent_once_each(settings, client, receiver):
    receiver.play(*[Reply(200)] * 40)
    send(settings, client, receiver.url())
    # BE counterfeit goods revised to 5.50 (+0.50: warning, no longer critical); NL financial crimes 2025 retracted.
    edit_warehouse(
        settings.warehouse,
        "UPDATE observation_versions SET value = 5.5 WHERE series_id = (SELECT series_id FROM series_keys "
        "WHERE indicator_id = 'oci.trade_in_counterfeit_goods' AND geo = 'BE') AND year = 2025",
        "UPDATE observation_versions SET valid_to = now() WHERE series_id = (SELECT series_id FROM series_keys "
        "WHERE indicator_id = 'oci.financial_crimes' AND geo = 'NL') AND year = 2025",
    )
    report = send(settings, client, receiver.url())
    assert (report.planned.changed, report.planned.resolved) == (1, 1)
    new = bodies(receiver)[ALERTS:]
    kinds = {(b["type"], b["rule"], b["indicator"], b["geo"]) for b in new}
    assert ("alert.changed", "index_move", "oci.trade_in_counterfeit_goods", "BE") in kinds
    assert ("alert.resolved", "index_move", "oci.financial_crimes", "NL") in kinds
    changed = next(b for b in new if b["type"] == "alert.changed")
    assert changed["severity"] == "warning" and changed["version"] == 2
    resolved = next(b for b in new if b["type"] == "alert.resolved")
    assert resolved["message"].startswith("Resolved: ")
    assert len(receiver.requests) == ALERTS + report.planned.total
    assert send(settings, client, receiver.url()).planned.total == 0


def test_a_resolved_alert_that_returns_is_opened_again_and_the_outbox_says_since_when(settings, client, receiver):
    receiver.play(*[Reply(200)] * 40)
    send(settings, client, receiver.url())
    outbox = (
        "SELECT opened_at, status, version FROM alert_outbox WHERE indicator_id = 'oci.financial_crimes' "
        "AND geo = 'NL' AND rule = 'index_move'"
    )
    ((first_opened, _, _),) = table(settings, outbox)
    other = (
        "SELECT opened_at FROM alert_outbox WHERE indicator_id = 'oci.trade_in_counterfeit_goods' "
        "AND geo = 'BE' ORDER BY rule"
    )
    kept = table(settings, other)
    retracted = (
        "UPDATE observation_versions SET valid_to = {} WHERE series_id = (SELECT series_id FROM series_keys "
        "WHERE indicator_id = 'oci.financial_crimes' AND geo = 'NL') AND year = 2025 "
        "AND valid_to IS NOT DISTINCT FROM {}"
    )
    for now_closed, was in (("now()", "NULL"), ("NULL", "(SELECT MAX(valid_to) FROM observation_versions)")):
        edit_warehouse(settings.warehouse, retracted.format(now_closed, was))
        send(settings, client, receiver.url())
    ((opened_again, status, version),) = table(settings, outbox)
    assert (status, version) == ("open", 3) and opened_again > first_opened
    assert [
        (b["type"], b["version"])
        for b in bodies(receiver)
        if (b["rule"], b["indicator"], b["geo"]) == ("index_move", "oci.financial_crimes", "NL")
    ] == [("alert.opened", 1), ("alert.resolved", 2), ("alert.opened", 3)]
    # An alert that never closed keeps the time it was first opened.
    assert table(settings, other) == kept


def test_a_webhook_added_later_gets_the_open_alerts(settings, client, receiver):
    receiver.play(*[Reply(200)] * (2 * ALERTS))
    first, second = receiver.url("/first"), receiver.url("/second")
    send(settings, client, first)
    report = send(settings, client, first, second)
    assert (report.planned.total, report.delivered) == (0, ALERTS)
    assert Counter(r.path for r in receiver.requests) == {"/first": ALERTS, "/second": ALERTS}


def test_the_url_appears_in_no_log_table_or_report(settings, client, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.play(Reply(500), Reply(400, body=TOKEN.encode()), *[Reply(200)] * ALERTS)
    url = receiver.url(f"/hook/{TOKEN}?key={TOKEN}")
    report = send(settings, client, url)
    assert report.rejected == 1
    stored = table(settings, "SELECT * FROM alert_deliveries") + table(settings, "SELECT * FROM alert_events")
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text  # the HTTP log was captured, cut short
    assert TOKEN not in repr(stored) + repr(report) + caplog.text


def documented_block(language: str) -> str:
    """The first fenced block of this language in the "Alert payload" section of docs/operators.md."""
    section = (REPO / "docs" / "operators.md").read_text(encoding="utf-8").split("### Alert payload", 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_documented_payload_and_signature_check_match_what_is_sent(settings, client, receiver):
    receiver.play(*[Reply(200)] * ALERTS)
    send(settings, client, receiver.url())
    example = json.loads(documented_block("json"))
    sent = bodies(receiver)[0]
    assert set(example) == set(sent)
    assert set(example["values"]) == set(sent["values"]) and set(example["sources"][0]) == set(sent["sources"][0])
    namespace: dict = {}
    exec(documented_block("python"), namespace)  # noqa: S102 - the documented verification snippet
    request = receiver.requests[0]
    assert namespace["verify"](SECRET, request.headers, request.body)
    assert not namespace["verify"]("whsec_" + "b3RoZXIta2V5", request.headers, request.body)


def test_a_rotated_token_is_a_new_webhook_whose_repeats_a_receiver_drops_by_fingerprint(settings, client, receiver):
    # What the reliability page says a changed webhook URL does: every open alert again, under new webhook-ids,
    # each with the fingerprint it had; what the old URL still owed waits for a webhook no longer configured.
    receiver.play(Reply(200), *[Reply(503)] * FAST.max_attempts, *[Reply(200)] * ALERTS)
    first = send(settings, client, receiver.url("/hook/old-token"))
    assert (first.delivered, first.pending) == (1, ALERTS - 1)
    rotated = send(settings, client, receiver.url("/hook/new-token"))
    assert (rotated.delivered, rotated.pending, rotated.unconfigured) == (ALERTS, 0, ALERTS - 1)
    old = [json.loads(r.body) for r in receiver.requests if r.path == "/hook/old-token"]
    new = [json.loads(r.body) for r in receiver.requests if r.path == "/hook/new-token"]
    old_ids = {r.headers["webhook-id"] for r in receiver.requests if r.path == "/hook/old-token"}
    new_ids = {r.headers["webhook-id"] for r in receiver.requests if r.path == "/hook/new-token"}
    assert not old_ids & new_ids
    assert {b["fingerprint"] for b in old} < {b["fingerprint"] for b in new}
    assert len({b["fingerprint"] for b in new}) == ALERTS

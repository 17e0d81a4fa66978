"""Keeping Debian's real Alertmanager (on 127.0.0.1) up to date with the open alerts of a refreshed warehouse."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from analyst_fixtures import copy_refreshed
from monitoring_tools import alertmanager  # noqa: F401 - fixture
from octracker.alerts.alertmanager import sync_alertmanager
from octracker.alerts.silences import mute_alert, unmute_alert
from octracker.alerts.webhooks import RetryPolicy
from octracker.store.settings import Settings
from octracker.store.warehouse import open_writer
from webhook_receiver import refused_port

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02, timeout_s=5.0)
REPORT = "https://reports.example.org/octracker/"


@pytest.fixture
def settings(tmp_path: Path, refreshed: Settings) -> Settings:
    return copy_refreshed(refreshed, tmp_path)


@pytest.fixture
def client():
    with httpx.Client() as client:
        yield client


def open_alerts(settings) -> dict[str, tuple]:
    with open_writer(settings) as con:
        return {
            r[0]: r[1:] for r in con.execute("SELECT fingerprint, rule, severity, geo FROM trend_alerts").fetchall()
        }


def sync(settings, url, client, now=None):
    moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    return sync_alertmanager(
        settings, url, client=client, now=lambda: moment, generator_url=REPORT, policy=FAST, sleep=lambda s: None
    )


def held(alertmanager) -> dict[str, dict]:
    return {a["labels"]["fingerprint"]: a for a in alertmanager.alerts()}


def eventually(read, want, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


def test_every_open_alert_fires_in_alertmanager_with_its_labels(settings, client, alertmanager):
    expected = open_alerts(settings)
    report = sync(settings, alertmanager.url, client)
    assert report.delivered and report.error is None
    assert report.planned.opened == len(expected) > 20
    shown = held(alertmanager)
    assert {
        fp: (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["geo"]) for fp, a in shown.items()
    } == expected
    assert all(a["status"]["state"] == "active" and a["generatorURL"] == REPORT for a in shown.values())
    assert all("Sources:" in a["annotations"]["description"] for a in shown.values())


def test_a_second_send_posts_nothing_until_half_the_lifetime_is_gone(settings, client, alertmanager):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    first = sync(settings, alertmanager.url, client, now)
    again = sync(settings, alertmanager.url, client, now + dt.timedelta(hours=1))
    assert again.planned.bodies == []
    later = sync(settings, alertmanager.url, client, now + dt.timedelta(hours=13))
    assert later.planned.refreshed == first.planned.opened and later.delivered
    assert len(held(alertmanager)) == first.planned.opened


def test_a_muted_alert_ends_in_alertmanager_and_fires_again_when_unmuted(settings, client, alertmanager):
    sync(settings, alertmanager.url, client)
    fingerprint = sorted(open_alerts(settings))[0]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with open_writer(settings) as con:
        mute_alert(con, fingerprint, duration=dt.timedelta(days=1), reason="known data issue", who="ops", now=now)
    muted = sync(settings, alertmanager.url, client)
    assert (muted.planned.ended, muted.planned.firing) == (1, 0)
    assert fingerprint not in eventually(lambda: set(held(alertmanager)), set(open_alerts(settings)))
    with open_writer(settings) as con:
        unmute_alert(con, fingerprint, who="ops", now=now)
    back = sync(settings, alertmanager.url, client)
    assert (back.planned.opened, back.planned.ended) == (1, 0)
    assert fingerprint in held(alertmanager)


def test_resolved_alerts_are_ended_with_endsat(settings, client, alertmanager):
    sync(settings, alertmanager.url, client)
    with open_writer(settings) as con:
        stale = {
            r[0] for r in con.execute("SELECT fingerprint FROM trend_alerts WHERE rule = 'stale_series'").fetchall()
        }
        con.execute("DELETE FROM alert_rules WHERE rule = 'stale_series'")
    assert stale
    report = sync(settings, alertmanager.url, client)
    assert report.planned.ended == len(stale) and report.delivered
    remaining = eventually(lambda: set(held(alertmanager)), set(open_alerts(settings)))
    assert remaining == set(open_alerts(settings)) and not stale & remaining


def test_alertmanager_down_records_nothing_and_the_next_send_posts_again(settings, client, alertmanager):
    down = sync(settings, f"http://127.0.0.1:{refused_port()}", client)
    assert not down.delivered and "did not take" in down.error and "posted again at the next send" in down.error
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM alertmanager_alerts").fetchone()[0] == 0
    up = sync(settings, alertmanager.url, client)
    assert up.delivered and up.planned.opened == len(open_alerts(settings))

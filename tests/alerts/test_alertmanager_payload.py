"""Alerts as Alertmanager's v2 API takes them, posted to Debian's real Alertmanager on 127.0.0.1 and read back."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from monitoring_tools import alertmanager  # noqa: F401 - fixture
from octracker.alerts.alertmanager import (
    DEFAULT_LIFETIME,
    AlertmanagerConfigError,
    alert_labels,
    alertmanager_alert,
    alertmanager_url_from_env,
    alerts_endpoint,
    repost_due,
)
from octracker.alerts.outbox import ALERT_COLUMNS, alert_content

ROW = dict.fromkeys(ALERT_COLUMNS) | {
    "fingerprint": "3f1c0d2a9b8e7f6a5d4c3b2a19087f6e",
    "rule": "yoy_change",
    "check_name": "yoy_change",
    "severity": "warning",
    "indicator_id": "cocaine_seized_tonnes",
    "indicator_name": "Cocaine seized",
    "unit": "tonnes",
    "geo": "BEANR",
    "year": 2023,
    "period": "2023",
    "value": 116.2,
    "prev_year": 2022,
    "prev_value": 110.0,
    "change": 6.2,
    "pct_change": 5.636363636363637,
    "basis": "full_year",
    "message": "Cocaine seized (BEANR): 116.20 tonnes in 2023 against 110 tonnes in 2022: up 6.20 tonnes "
    "(+5.6 %). Sources: customs_2024. Next: Check the cited sentences.",
    "source_ids": ["customs_2024"],
}
SOURCES = {
    "customs_2024": {
        "source_id": "customs_2024",
        "title": "Annual report 2023",
        "publisher": "Customs",
        "published_on": "2024-01-25",
        "published_precision": "day",
        "url": "https://customs.example.org/report-2023.pdf",
    }
}


def content(**changes) -> dict:
    return alert_content(ROW | changes, SOURCES)


def test_labels_identify_the_alert_and_the_annotations_cite_values_and_sources():
    now = dt.datetime(2026, 12, 3, 1, 0, 0)
    body = alertmanager_alert(
        content(), starts_at=now, ends_at=now + DEFAULT_LIFETIME, generator_url="https://reports.example.org/octracker/"
    )
    assert body["labels"] == {
        "alertname": "yoy_change",
        "indicator_id": "cocaine_seized_tonnes",
        "geo": "BEANR",
        "severity": "warning",
        "fingerprint": "3f1c0d2a9b8e7f6a5d4c3b2a19087f6e",
        "service": "octracker",
    }
    assert body["annotations"]["summary"] == (
        "Cocaine seized (BEANR) 2023: 116.2 tonnes (was 110 tonnes) [yoy_change, warning]"
    )
    description = body["annotations"]["description"]
    assert description.startswith(ROW["message"])
    assert (
        "customs_2024: Annual report 2023 (Customs, published 2024-01-25) <https://customs.example.org/report-2023.pdf>"
    ) in description
    assert body["startsAt"] == "2026-12-03T01:00:00Z" and body["endsAt"] == "2026-12-04T01:00:00Z"
    assert body["generatorURL"] == "https://reports.example.org/octracker/"
    assert "generatorURL" not in alertmanager_alert(content(), starts_at=now, ends_at=now)


def test_a_score_reads_as_the_index_prints_it_and_a_date_as_far_as_the_source_states_it():
    now = dt.datetime(2026, 12, 3, 1, 0, 0)
    sources = {
        "gitoc_2025": {"source_id": "gitoc_2025", "title": "Index 2025", "publisher": "GI-TOC", "url": None}
        | {"published_on": "2025-01-01", "published_precision": "year"},
        "undated": {"source_id": "undated", "title": "Blog", "publisher": None, "url": None}
        | {"published_on": None, "published_precision": "unknown"},
    }
    row = ROW | {
        "rule": "index_move",
        "check_name": "edition_change",
        "indicator_id": "oci.foreign_actors",
        "indicator_name": "Foreign actors",
        "unit": "score",
        "geo": "BE",
        "year": 2025,
        "period": "2025",
        "value": 6.0,
        "prev_value": 5.0,
        "source_ids": ["gitoc_2025", "undated"],
    }
    annotations = alertmanager_alert(alert_content(row, sources), starts_at=now, ends_at=now)["annotations"]
    assert annotations["summary"] == "Foreign actors (BE) 2025: score 6.00 (was 5.00) [index_move, warning]"
    assert "gitoc_2025: Index 2025 (GI-TOC, published 2025)" in annotations["description"]
    assert "2025-01-01" not in annotations["description"]
    assert "undated: Blog\n" in annotations["description"] + "\n"


def test_a_changed_severity_is_another_label_set_but_the_same_fingerprint():
    assert alert_labels(content(severity="critical"))["fingerprint"] == alert_labels(content())["fingerprint"]
    assert alert_labels(content(severity="critical"))["severity"] == "critical"


def test_an_alert_is_posted_again_once_half_its_lifetime_is_gone():
    now = dt.datetime(2026, 12, 3, 12, 0)
    assert repost_due(None, now)
    assert not repost_due(now + dt.timedelta(hours=13), now)
    assert repost_due(now + dt.timedelta(hours=11), now)


@pytest.mark.parametrize(
    "value", ["127.0.0.1:9093", "ftp://am.example.org", "http://am.example.org?x=1", "http://am.example.org:99999"]
)
def test_an_unusable_alertmanager_url_is_refused_with_the_variable_named(value):
    with pytest.raises(AlertmanagerConfigError, match="OCTRACKER_ALERTMANAGER_URL"):
        alertmanager_url_from_env({"OCTRACKER_ALERTMANAGER_URL": value})


def test_the_endpoint_keeps_a_route_prefix():
    assert alerts_endpoint("http://127.0.0.1:9093/") == "http://127.0.0.1:9093/api/v2/alerts"
    assert (
        alerts_endpoint("https://ops.example.org/alertmanager") == "https://ops.example.org/alertmanager/api/v2/alerts"
    )
    assert alertmanager_url_from_env({}) is None


def wait_for(predicate, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_alertmanager_takes_the_alert_shows_it_firing_and_ends_it_when_resolved(alertmanager):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    firing = alertmanager_alert(
        content(),
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + DEFAULT_LIFETIME,
        generator_url="https://reports.example.org/octracker/",
    )
    alertmanager.post([firing])
    held = alertmanager.alerts()
    assert len(held) == 1
    alert = held[0]
    assert alert["status"]["state"] == "active"
    assert {k: alert["labels"][k] for k in ("alertname", "indicator_id", "geo", "severity", "fingerprint")} == {
        "alertname": "yoy_change",
        "indicator_id": "cocaine_seized_tonnes",
        "geo": "BEANR",
        "severity": "warning",
        "fingerprint": "3f1c0d2a9b8e7f6a5d4c3b2a19087f6e",
    }
    assert alert["annotations"] == firing["annotations"]
    assert alert["generatorURL"] == "https://reports.example.org/octracker/"
    assert alert["startsAt"].startswith((now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"))

    # Posting the same alert again refreshes it: still one alert.
    alertmanager.post([firing])
    assert len(alertmanager.alerts()) == 1

    resolved = alertmanager_alert(content(), starts_at=now - dt.timedelta(hours=1), ends_at=now)
    alertmanager.post([resolved])
    assert wait_for(lambda: alertmanager.alerts() == [])

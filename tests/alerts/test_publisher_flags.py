"""A publisher's provisional value, as CBS recorded it (80072ned, 2020KW01 Voorlopig), in the alerts that cite it:
their message, `octracker alerts --format json`, the webhook payload and the HTML report."""

from __future__ import annotations

import html
import json
import re

from conftest import query, run_cli
from octracker.alerts.outbox import alert_content, content_hash
from publisher_cases import SICK_LEAVE

SAID = "The 2020 value is provisional (publisher flag p)."


def test_a_provisional_cbs_quarter_is_said_provisional_wherever_an_alert_cites_it(scratch_project, tmp_path):
    catalog = scratch_project.schemas_dir / "indicators.toml"
    catalog.write_text(catalog.read_text(encoding="utf-8") + SICK_LEAVE, encoding="utf-8")
    # Offline, the shipped CBS pipeline loads its recorded answers (the bundled snapshot).
    done = run_cli(scratch_project, "refresh", "cbs_80072ned")
    assert done.exit_code == 0, done.output
    assert query(
        scratch_project,
        "SELECT period_start::VARCHAR, value, flags FROM series WHERE indicator_id = 'sick_leave_rate' "
        "ORDER BY period_end DESC LIMIT 1",
    ) == [("2020-01-01", 5.2, "p")]

    listed = run_cli(scratch_project, "alerts", "--format", "json")
    assert listed.exit_code == 0, listed.output
    alerts = [a for a in json.loads(listed.stdout) if a["indicator_id"] == "sick_leave_rate"]
    assert {a["rule"] for a in alerts} >= {"stale_series"}
    for alert in alerts:
        assert alert["provisional"] is True and SAID in alert["message"], alert

    report = run_cli(scratch_project, "report", "--out", str(tmp_path / "report"))
    assert report.exit_code == 0, report.output
    page = html.unescape((tmp_path / "report" / "index.html").read_text(encoding="utf-8"))
    section = page[page.index("Sick leave rate") :]
    latest = re.search(r"<table class=latest>.*?</table>", section, re.S)
    assert latest and '<span class="tag flag">provisional</span>' in latest.group(0)
    assert SAID in page  # the alert's line in the report


def test_the_webhook_payload_says_provisional_without_re_announcing_the_other_alerts():
    row = {
        "fingerprint": "f" * 32,
        "rule": "stale_series",
        "check_name": "stale_series",
        "severity": "info",
        "indicator_id": "sick_leave_rate",
        "indicator_name": "Sick leave rate",
        "unit": "percent",
        "geo": "NL",
        "year": 2020,
        "period": "2020",
        "value": 5.2,
        "prev_year": None,
        "prev_value": None,
        "change": None,
        "pct_change": None,
        "basis": None,
        "annualized_value": None,
        "message": "Sick leave rate (NL): …",
        "source_ids": ["cbs-80072ned"],
    }
    provisional = alert_content({**row, "provisional": True}, {})
    final = alert_content({**row, "provisional": False}, {})
    assert provisional["provisional"] is True and final["provisional"] is False
    assert content_hash(provisional) != content_hash(final)
    # An alert that cites no provisional value hashes as before the field existed: receivers hear nothing new.
    before = {k: v for k, v in final.items() if k != "provisional"}
    assert content_hash(final) == content_hash(before)

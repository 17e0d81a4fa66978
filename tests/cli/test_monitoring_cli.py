"""The monitoring commands as an operator runs them: silences, `alerts send` to Alertmanager and webhooks,
`octracker metrics` (checked by promtool), `schedule --metrics-port`, and `octracker changes`."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from analyst_fixtures import copy_refreshed
from conftest import child_env, octracker_command, run_cli
from monitoring_tools import alertmanager, amtool_check_config, promtool_check_config, promtool_check_metrics  # noqa: F401 - fixture
from octracker.alerts.silences import mute_alert
from octracker.store.settings import Settings
from octracker.store.warehouse import open_writer, publish, utc_now
from webhook_receiver import Reply, receiver, refused_port  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]
METRIC_NAMES = {
    "octracker_pipeline_last_run_timestamp_seconds",
    "octracker_pipeline_last_success_timestamp_seconds",
    "octracker_pipeline_last_run_status",
    "octracker_pipeline_rows",
    "octracker_pipeline_quarantined_rows",
    "octracker_alerts_open",
    "octracker_alerts_open_by_severity",
    "octracker_alerts_muted",
    "octracker_source_data_age_seconds",
    "octracker_scheduler_up",
    "octracker_warehouse_readable",
    "octracker_warehouse_published_timestamp_seconds",
}


@pytest.fixture
def settings(refreshed, tmp_path: Path) -> Settings:
    """A copy of the refreshed bundled warehouse, published, that this test may change."""
    settings = copy_refreshed(refreshed, tmp_path)
    with open_writer(settings) as con:
        publish(con, settings)
    return settings


def current_values(settings: Settings) -> int:
    """How many values the published copy holds now."""
    import duckdb

    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]


def listed(settings, *args) -> dict[str, dict]:
    result = run_cli(settings, "alerts", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return {a["fingerprint"]: a for a in json.loads(result.output)}


def test_a_muted_alert_is_neither_listed_nor_delivered_and_comes_back_when_the_silence_ends(
    settings, receiver, monkeypatch
):
    before = listed(settings)
    fingerprint = sorted(before)[0]
    muted = run_cli(settings, "alerts", "mute", fingerprint[:10], "--for", "30d", "--reason", "publisher error")
    assert muted.exit_code == 0, muted.output
    assert f"Muted {fingerprint} until " in muted.output
    assert fingerprint not in listed(settings) and len(listed(settings)) == len(before) - 1
    shown = listed(settings, "--all")[fingerprint]
    assert (shown["muted_reason"], shown["muted_by"]) == (
        "publisher error",
        os.environ.get("USER") or shown["muted_by"],
    )
    assert dt.datetime.fromisoformat(shown["muted_until"]) > dt.datetime.now() + dt.timedelta(days=29)

    receiver.play(*[Reply(200)] * 100)
    monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", receiver.url())
    sent = run_cli(settings, "alerts", "send")
    assert sent.exit_code == 0, sent.output
    delivered = {json.loads(r.body)["fingerprint"] for r in receiver.requests}
    assert delivered == set(before) - {fingerprint}

    # The silence ended (mute it again as if thirty days ago, for one day): the alert is back and delivered.
    assert run_cli(settings, "alerts", "unmute", fingerprint).exit_code == 0
    with open_writer(settings) as con:
        mute_alert(
            con,
            fingerprint,
            duration=dt.timedelta(days=1),
            reason="publisher error",
            who="ops",
            now=utc_now() - dt.timedelta(days=30),
        )
        publish(con, settings)
    assert fingerprint in listed(settings)
    receiver.requests.clear()
    assert run_cli(settings, "alerts", "send").exit_code == 0
    assert [(json.loads(r.body)["type"], json.loads(r.body)["fingerprint"]) for r in receiver.requests] == [
        ("alert.opened", fingerprint)
    ]


@pytest.mark.parametrize("width", (80, 120))
def test_alerts_all_shows_the_id_to_mute_with_and_each_silence_under_its_alert(settings, width):
    from click.testing import CliRunner

    from lakes import cli_options
    from octracker.cli import main

    def screen(*args: str) -> list[str]:
        options, env = cli_options(settings)
        result = CliRunner().invoke(main, [*options, "alerts", *args], env={**env, "COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        assert all(len(line) <= width for line in result.output.splitlines()), result.output
        return result.output.splitlines()

    before = listed(settings)
    lines = screen("--all")
    assert lines[0] == f"Open trend alerts: {len(before)}; muted: 0"
    ids = [line.split()[0] for line in lines[2:] if re.fullmatch(r"[0-9a-f]{8}", line.split()[0])]
    assert len(ids) == len(before) and {i for i in ids} == {f[:8] for f in before}
    # The id a person reads off the screen is the one `alerts mute` takes.
    muted = run_cli(settings, "alerts", "mute", ids[3], "--for", "2w", "--reason", "the index revised this score")
    assert muted.exit_code == 0, muted.output
    lines = screen("--all")
    assert lines[0] == f"Open trend alerts: {len(before) - 1}; muted: 1"
    row = next(i for i, line in enumerate(lines) if line.startswith(ids[3]))
    assert re.match(r" {10}muted until \d{4}-\d\d-\d\d \d\d:\d\d UTC by \S+: the index revised", lines[row + 1])
    assert "octracker alerts unmute ID" in "\n".join(lines[-3:])
    # The default list leaves it out and says where the ids and the muted ones are.
    default = screen()
    assert default[0] == f"Open trend alerts: {len(before) - 1}"
    assert "Ids to mute one, and the muted ones: octracker alerts --all" in default
    assert run_cli(settings, "alerts", "unmute", ids[3]).exit_code == 0
    assert screen("--all")[0] == f"Open trend alerts: {len(before)}; muted: 0"


def test_mute_prints_its_reason_as_written_and_nothing_with_quiet(settings):
    fingerprint = sorted(listed(settings))[0]
    reason = "[bold]ticket[/bold] 42 per [b]"
    muted = run_cli(settings, "alerts", "mute", fingerprint, "--for", "1d", "--reason", reason)
    assert muted.exit_code == 0, muted.output
    assert f": {reason})." in muted.output
    unmuted = run_cli(settings, "alerts", "unmute", fingerprint)
    assert unmuted.output == f"Unmuted {fingerprint}.\n"
    for args in (("mute", fingerprint, "--for", "1d", "--reason", reason), ("unmute", fingerprint)):
        quiet = run_cli(settings, "-q", "alerts", *args)
        assert (quiet.exit_code, quiet.output) == (0, "")


def test_unknown_or_unmuted_fingerprints_and_bad_durations_are_refused(settings):
    fingerprint = sorted(listed(settings))[0]
    for args, complaint in [
        (("mute", "0123456789abcdef", "--for", "1d", "--reason", "x"), "no alert has fingerprint"),
        (("mute", fingerprint, "--for", "soon", "--reason", "x"), "give a duration such as 30d"),
        (("mute", fingerprint, "--for", "400d", "--reason", "x"), "at most 366 days"),
        (("mute", fingerprint, "--for", "1d", "--reason", " "), "--reason must say why"),
        (("unmute", fingerprint), "no muted alert has fingerprint"),
    ]:
        result = run_cli(settings, "alerts", *args)
        assert result.exit_code == 2 and complaint in result.output, (args, result.output)
    assert len(listed(settings, "--all")) == len(listed(settings))


def test_alerts_send_posts_to_alertmanager_and_the_webhooks_together(settings, alertmanager, receiver, monkeypatch):
    receiver.play(*[Reply(200)] * 100)
    monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", receiver.url())
    monkeypatch.setenv("OCTRACKER_ALERTMANAGER_URL", alertmanager.url)
    monkeypatch.setenv("OCTRACKER_REPORT_URL", "https://reports.example.org/octracker/")
    result = run_cli(settings, "alerts", "send")
    assert result.exit_code == 0, result.output
    expected = set(listed(settings))
    assert (
        f"Alertmanager: {len(expected)} firing ({len(expected)} new, 0 changed, 0 refreshed), 0 ended." in result.output
    )
    assert {a["labels"]["fingerprint"] for a in alertmanager.alerts()} == expected
    assert {json.loads(r.body)["fingerprint"] for r in receiver.requests} == expected
    again = run_cli(settings, "alerts", "send")
    assert again.exit_code == 0 and "Nothing to send" in again.output


def test_alertmanager_alone_is_enough_and_a_down_one_exits_1_and_is_retried(settings, alertmanager, monkeypatch):
    monkeypatch.delenv("OCTRACKER_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("OCTRACKER_ALERTMANAGER_URL", f"http://127.0.0.1:{refused_port()}")
    down = run_cli(settings, "alerts", "send")
    assert down.exit_code == 1
    assert "Alertmanager (http://127.0.0.1:" in down.output and "posted again at the next send" in down.output
    monkeypatch.setenv("OCTRACKER_ALERTMANAGER_URL", alertmanager.url)
    up = run_cli(settings, "alerts", "send")
    assert up.exit_code == 0, up.output
    assert len(alertmanager.alerts()) == len(listed(settings))


def test_alerts_send_with_no_receiver_says_which_variables_to_set(settings, monkeypatch):
    monkeypatch.delenv("OCTRACKER_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("OCTRACKER_ALERTMANAGER_URL", raising=False)
    result = run_cli(settings, "alerts", "send")
    assert result.exit_code == 2
    assert "OCTRACKER_WEBHOOK_URL" in result.output and "OCTRACKER_ALERTMANAGER_URL" in result.output


def samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_pass_promtool_and_count_what_the_warehouse_holds(settings):
    fingerprint = sorted(listed(settings))[0]
    severity, rule = listed(settings)[fingerprint]["severity"], listed(settings)[fingerprint]["rule"]
    assert run_cli(settings, "alerts", "mute", fingerprint, "--for", "1d", "--reason", "noise").exit_code == 0
    result = run_cli(settings, "metrics")
    assert result.exit_code == 0, result.output
    checked = promtool_check_metrics(result.output)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {family.name for family in text_string_to_metric_families(result.output)} == METRIC_NAMES
    got = samples(result.output)
    open_now = listed(settings)
    assert sum(v for (name, _), v in got.items() if name == "octracker_alerts_open") == len(open_now)
    assert got[("octracker_alerts_muted", (("rule", rule), ("severity", severity)))] == 1
    assert got[("octracker_pipeline_last_run_status", (("pipeline", "oci_2025_profiles"), ("status", "success")))] == 1
    assert got[("octracker_pipeline_rows", (("pipeline", "oci_2025_profiles"),))] == 144
    assert got[("octracker_scheduler_up", ())] == 0
    # The 2025 profiles' newest period is the 2025 edition (year to 31 December 2025).
    ages = {labels[0][1]: v for (name, labels), v in got.items() if name == "octracker_source_data_age_seconds"}
    assert ages and all(v >= 0 for v in ages.values())


def wait_for_metrics(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def test_the_scheduler_serves_metrics_on_loopback_and_says_it_is_up(settings, tmp_path):
    port = refused_port()
    process = subprocess.Popen(
        octracker_command(settings, "schedule", "--metrics-port", str(port), "--inbox-cron", "0 0 1 1 *"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(OCTRACKER_WEBHOOK_URL="", OCTRACKER_ALERTMANAGER_URL=""),
    )
    try:
        text = wait_for_metrics(f"http://127.0.0.1:{port}/metrics", process)
        checked = promtool_check_metrics(text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert samples(text)[("octracker_scheduler_up", ())] == 1
        # `octracker metrics` from another process sees the scheduler too.
        assert samples(run_cli(settings, "metrics").output)[("octracker_scheduler_up", ())] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert f"Metrics at http://127.0.0.1:{port}/metrics" in stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_changes_lists_one_run_in_every_format_and_refuses_both_filters(settings):
    result = run_cli(settings, "changes", "--since", "2000-01-01", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    # One refresh into an empty warehouse: every value it holds is a new one, listed once.
    assert len(rows) == current_values(settings) and {r["change"] for r in rows} == {"new"}
    run_id = rows[0]["run_id"]
    one_run = json.loads(run_cli(settings, "changes", "--run", run_id, "--format", "json").output)
    assert one_run and {r["run_id"] for r in one_run} == {run_id}
    csv_lines = run_cli(settings, "changes", "--run", run_id, "--format", "csv").output.splitlines()
    assert (
        csv_lines[0]
        == ("run_id,changed_at,change,indicator_id,geo,period_start,period_end,year,old_value,new_value,source_id")
        and len(csv_lines) == len(one_run) + 1
    )
    table = run_cli(settings, "changes", "--run", run_id)
    assert f"Changes run {run_id}: {len(one_run)} new, 0 revised, 0 retracted" in table.output
    both = run_cli(settings, "changes", "--run", run_id, "--since", "7d")
    assert both.exit_code == 2 and "not both" in both.output
    assert "No changes since" in run_cli(settings, "changes", "--since", "2999-01-01").output


def test_the_refresh_summary_says_how_many_values_changed_and_where_to_look(scratch_project):
    first = run_cli(scratch_project, "refresh")
    assert first.exit_code == 0, first.output
    new = current_values(scratch_project)
    assert f"Changed values: {new} new, 0 revised, 0 retracted; to list them:\n  octracker changes --since " in (
        first.output
    )
    assert "Changed values" not in run_cli(scratch_project, "refresh").output


def test_the_operators_page_configurations_load_in_prometheus_and_alertmanager(tmp_path):
    page = (REPO / "docs" / "operators.md").read_text(encoding="utf-8")
    route, scrape = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    (tmp_path / "alertmanager.yml").write_text(route)
    (tmp_path / "prometheus.yml").write_text(scrape)
    checked = amtool_check_config(tmp_path / "alertmanager.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "matchers: ['service=\"octracker\"'" in route
    checked = promtool_check_config(tmp_path / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Every metric the page explains is one `octracker metrics` prints, and the other way round.
    documented = set(re.findall(r"^\| `(octracker_\w+)` \|", page, flags=re.M))
    assert documented == METRIC_NAMES

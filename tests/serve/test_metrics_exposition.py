"""The Prometheus text exposition: what a scrape reads, and promtool (Debian's `prometheus`) finds no fault in it."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from monitoring_tools import promtool_check_metrics
from octracker.serve.metrics import AlertCount, MetricsSnapshot, PipelineFigures, SourceFigures, render_metrics

NOW = dt.datetime(2024, 3, 1, 12, 0, 0)
SNAPSHOT = MetricsSnapshot(
    collected_at=NOW,
    pipelines=[
        PipelineFigures(
            "estat_crime",
            last_run_at=dt.datetime(2024, 3, 1, 6, 0),
            last_status="failed",
            last_success_at=dt.datetime(2024, 2, 29, 6, 0),
            rows=1200,
            rows_quarantined=3,
        ),
        PipelineFigures("never_run"),
    ],
    sources=[SourceFigures("estat_crim_off_cat", dt.date(2024, 1, 31)), SourceFigures("no_values_yet", None)],
    alerts=[AlertCount("warning", "yoy_change", open=2, muted=1), AlertCount("critical", "index_move", open=1)],
    scheduler_up=True,
)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_promtool_finds_nothing_to_fault():
    checked = promtool_check_metrics(render_metrics(SNAPSHOT))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""


def test_a_failed_last_run_shows_with_its_time_and_the_last_success():
    got = samples(render_metrics(SNAPSHOT))
    pipeline = (("pipeline", "estat_crime"),)
    assert got[("octracker_pipeline_last_run_timestamp_seconds", pipeline)] == 1709272800.0
    assert got[("octracker_pipeline_last_success_timestamp_seconds", pipeline)] == 1709186400.0
    assert got[("octracker_pipeline_last_run_status", (("pipeline", "estat_crime"), ("status", "failed")))] == 1
    assert got[("octracker_pipeline_last_run_status", (("pipeline", "estat_crime"), ("status", "success")))] == 0
    assert got[("octracker_pipeline_rows", pipeline)] == 1200
    assert got[("octracker_pipeline_quarantined_rows", pipeline)] == 3
    # A pipeline that never ran has rows (none) but no run time to report.
    assert got[("octracker_pipeline_rows", (("pipeline", "never_run"),))] == 0
    assert ("octracker_pipeline_last_run_timestamp_seconds", (("pipeline", "never_run"),)) not in got


def test_open_alerts_by_severity_and_rule_leave_muted_ones_out():
    got = samples(render_metrics(SNAPSHOT))
    assert got[("octracker_alerts_open", (("rule", "yoy_change"), ("severity", "warning")))] == 2
    assert got[("octracker_alerts_muted", (("rule", "yoy_change"), ("severity", "warning")))] == 1
    assert got[("octracker_alerts_open_by_severity", (("severity", "warning"),))] == 2
    assert got[("octracker_alerts_open_by_severity", (("severity", "critical"),))] == 1
    assert got[("octracker_alerts_open_by_severity", (("severity", "info"),))] == 0


def test_the_age_of_a_source_counts_from_the_end_of_its_newest_period():
    got = samples(render_metrics(SNAPSHOT))
    # Data to 31 January (covered until 1 February 00:00) read on 1 March at noon: 29.5 days (2024 is a leap year).
    assert got[("octracker_source_data_age_seconds", (("source_id", "estat_crim_off_cat"),))] == 29.5 * 86400
    assert ("octracker_source_data_age_seconds", (("source_id", "no_values_yet"),)) not in got
    assert got[("octracker_scheduler_up", ())] == 1


def test_label_values_with_quotes_and_newlines_stay_one_sample_each():
    odd = MetricsSnapshot(collected_at=NOW, pipelines=[PipelineFigures('a "quoted"\nname', rows=5)])
    text = render_metrics(odd)
    assert promtool_check_metrics(text).returncode == 0
    assert samples(text)[("octracker_pipeline_rows", (("pipeline", 'a "quoted"\nname'),))] == 5

"""`octracker status`: last and next runs, quarantine with reasons, stale series, open alerts; JSON and exit status."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import query, run_cli
from octracker.errors import SpecError
from octracker.load.pipeline import refresh
from octracker.serve.status import collect_status, next_run
from octracker.store.runs import finish_run, start_run
from octracker.store.warehouse import open_writer, publish
from octracker.store.writers import write_transaction

REPO = Path(__file__).resolve().parents[2]

MONDAY = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
PROFILE = "documents/003_3261f147cc4f0198.txt"


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ("0 5 * * *", dt.datetime(2026, 11, 23, 5, 0)),  # later the same day
        ("0 5 * * 1", dt.datetime(2026, 11, 23, 5, 0)),  # crontab 1 is Monday (APScheduler's 1 would be Tuesday)
        ("0 2 * * 1", dt.datetime(2026, 11, 30, 2, 0)),  # Monday's 02:00 has passed: next Monday
        ("0 5 * * 0", dt.datetime(2026, 11, 29, 5, 0)),  # 0 is Sunday
        ("0 5 * * 7", dt.datetime(2026, 11, 29, 5, 0)),  # and so is 7
        ("30 6 * * 2-5", dt.datetime(2026, 11, 24, 6, 30)),
        ("0 5 * * 5-7", dt.datetime(2026, 11, 27, 5, 0)),
        ("0 5 * * sat,sun", dt.datetime(2026, 11, 28, 5, 0)),
        ("0 0 1 1 *", dt.datetime(2027, 1, 1, 0, 0)),
    ],
)
def test_next_run_reads_the_schedule_as_crontab_does_in_utc(schedule, expected):
    assert next_run(schedule, MONDAY) == expected.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("schedule", ["0 5 * *", "0 25 * * *", "0 5 * * 8", "every monday"])
def test_a_bad_schedule_is_a_spec_error_naming_it(schedule):
    with pytest.raises(SpecError, match="schedule"):
        next_run(schedule, MONDAY, where="pipelines/x.toml: schedule")


def test_status_lists_each_pipelines_last_run_rows_and_next_run(refreshed):
    result = run_cli(refreshed, "status")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "oci_2025_profiles" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[0] == "oci_2025_profiles" and cells[2] == "success"
    assert cells[3:8] == ["144", "0", "0", "0", "144"]
    assert "UTC (in " in cells[8]
    # The one quarantine of the bundled sources: the UNODC rows of areas with no ISO code, left out with a reason.
    assert query(refreshed, "SELECT DISTINCT pipeline, check_name FROM quarantine") == [
        ("unodc_violent_and_sexual_crime", "unmapped_geo")
    ]
    assert "Quarantine (newest first)" in result.output
    severities = dict(query(refreshed, "SELECT severity, COUNT(*) FROM trend_alerts GROUP BY ALL"))
    assert f"Open alerts: {sum(severities.values())} (" in result.output
    shown = result.output.split("Open alerts: ")[1].split("\n")[0]
    assert shown.index("critical") < shown.index("warning") < shown.index("info")  # most severe first


def test_status_json_is_for_monitoring_jobs(refreshed):
    result = run_cli(refreshed, "status", "--json")
    assert result.exit_code == 0
    status = json.loads(result.output)
    pipelines = {p["pipeline"]: p for p in status["pipelines"]}
    assert set(pipelines) == {p.stem for p in (REPO / "pipelines").glob("*.toml")}
    assert {"article_judge_letter", "oci_2025_profiles", "estat_sdg_04_20", "cbs_83599ned"} <= set(pipelines)
    profiles = pipelines["oci_2025_profiles"]
    assert profiles["result"] == "success" and profiles["rows_new"] == 144 and profiles["rows_current"] == 144
    checked = dt.datetime.fromisoformat(status["checked_at"])
    upcoming = dt.datetime.fromisoformat(profiles["next_run"])
    # "0 5 * * 1": the next Monday 05:00 UTC, within a week.
    assert upcoming.weekday() == 0 and (upcoming.hour, upcoming.minute) == (5, 0)
    assert checked < upcoming <= checked + dt.timedelta(days=7)
    assert status["failed_pipelines"] == []
    assert status["quarantined_rows"] == query(refreshed, "SELECT COUNT(*) FROM quarantine")[0][0]
    assert status["open_alerts"] == query(refreshed, "SELECT COUNT(*) FROM trend_alerts")[0][0]
    stale = {(s["indicator_id"], s["geo"]) for s in status["stale_series"]}
    assert stale == set(
        query(
            refreshed,
            # In the places alerts follow: the index workbook's other countries stop at its 2023 edition.
            "SELECT indicator_id, geo FROM series_freshness WHERE stale_after < current_date AND EXISTS "
            "(SELECT 1 FROM alert_places AS p WHERE starts_with(geo, p.place))",
        )
    )
    same = json.loads(run_cli(refreshed, "status", "--format", "json").output)
    assert {**same, "checked_at": None} == {**status, "checked_at": None}


def test_a_refused_document_shows_as_refused_with_its_reasons_and_does_not_fail_status(scratch_project):
    settings = scratch_project
    doc = settings.pipelines_dir / PROFILE
    lines = doc.read_text(encoding="utf-8").split("\n")
    lines[34] = "80.000.50"  # NL cocaine trade: score out of range
    doc.write_text("\n".join(lines), encoding="utf-8")
    refresh(settings)
    result = run_cli(settings, "status")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "oci_2025_profiles" in line and "│" in line)
    assert "refused" in row and "failed" not in row
    assert "oci_2025_profiles: " in result.output and "line 35" in result.output  # the run's error
    assert "Quarantine (newest first)" in result.output and "80.000.50" not in row
    status = json.loads(run_cli(settings, "status", "--json").output)
    (q,) = [q for q in status["quarantine"] if q["pipeline"] != "unodc_violent_and_sexual_crime"]
    assert q["pipeline"] == "oci_2025_profiles" and q["rows"] >= 1 and q["newest_reasons"]
    assert q["newest_reasons"][0] == "oci.cocaine_trade score 80.00 outside 1-10"
    assert "oci.cocaine_trade score 80.00 outside 1-10" in result.output
    assert status["failed_pipelines"] == [] and status["refused_pipelines"] == ["oci_2025_profiles"]
    quiet = run_cli(settings, "-q", "status")
    assert quiet.exit_code == 0 and quiet.output == ""


def test_a_failed_run_shows_as_failed_and_makes_status_exit_1(scratch_project):
    settings = scratch_project
    refresh(settings)
    with open_writer(settings) as con:
        run_id = start_run(con, "oci_2025_profiles", "test")
        write_transaction(
            con, lambda: finish_run(con, run_id, status="failed", error="extractor crashed"), what="test run"
        )
        publish(con, settings)
    result = run_cli(settings, "status")
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if "oci_2025_profiles" in line and "│" in line)
    assert "failed" in row and "refused" not in row
    assert "oci_2025_profiles: extractor crashed" in result.output
    status = json.loads(run_cli(settings, "status", "--json").output)
    assert status["failed_pipelines"] == ["oci_2025_profiles"] and status["refused_pipelines"] == []


def test_stale_series_are_those_past_their_frequencys_cadence(refreshed):
    report = collect_status(refreshed, now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    stale = {(s.indicator_id, s.geo): s for s in report.stale_series}
    # Annual figures whose latest period ended on 2024-12-31 are overdue since 2025-12-31; 2023's since 2024.
    assert set(stale) == {
        ("cocaine_seized_tonnes", "BEANR"),
        ("cocaine_seized_tonnes", "BEANR+BEZEE"),
        ("shooting_deaths", "BE-BRU"),
        ("murders_and_attempts", "BE"),
        ("homicide_rate_per_100k", "BE"),
        # UNODC's export (the bundled 2024 release) ends in 2017 to 2022 for these.
        ("kidnapping_per_100k", "BE"),
        ("kidnapping_per_100k", "NL"),
        ("sexual_exploitation_per_100k", "BE"),
        ("sexual_exploitation_per_100k", "NL"),
    }
    assert stale[("cocaine_seized_tonnes", "BEANR")].stale_after == dt.date(2025, 12, 31)
    assert stale[("cocaine_seized_tonnes", "BEANR")].days_overdue == 60
    assert stale[("homicide_rate_per_100k", "BE")].stale_after == dt.date(2024, 12, 31)
    # Shootings have a 2025 value (so far); the biennial index's 2025 edition is due again only after 2027.
    later = collect_status(refreshed, now=dt.datetime(2028, 1, 2, tzinfo=dt.UTC))
    assert sum(1 for s in later.stale_series if s.indicator_id.startswith("oci.")) == 72
    assert ("shootings", "BE-BRU") in {(s.indicator_id, s.geo) for s in later.stale_series}


def test_without_alert_views_status_says_alerts_are_not_computed(without_alert_views):
    refresh(without_alert_views)
    result = run_cli(without_alert_views, "status")
    assert result.exit_code == 0
    assert "Open alerts: not computed in this warehouse (it has no trend_alerts view)" in result.output
    assert json.loads(run_cli(without_alert_views, "status", "--json").output)["open_alerts"] is None


def test_status_before_any_refresh_lists_the_pipelines_as_never_run(settings):
    result = run_cli(settings, "status")
    assert result.exit_code == 0
    assert "nothing published yet; run `octracker refresh`" in result.output
    assert result.output.count("never run") == len(list((REPO / "pipelines").glob("*.toml")))
    status = json.loads(run_cli(settings, "status", "--json").output)
    assert status["published_at"] is None and all(p["next_run"] for p in status["pipelines"])


def test_a_bad_schedule_is_shown_without_hiding_the_rest(scratch_project):
    settings = scratch_project
    spec = settings.pipelines_dir / "oci_2021_belgium.toml"
    spec.write_text(spec.read_text(encoding="utf-8").replace('"0 5 * * 1"', '"0 5 * * 9"'), encoding="utf-8")
    result = run_cli(settings, "status")
    assert result.exit_code == 0
    assert "bad schedule" in result.output and "oci_2021_belgium.toml: schedule '0 5 * * 9'" in result.output
    assert "oci_2025_profiles" in result.output


def test_the_inbox_is_listed_as_running_with_each_refresh(scratch_project):
    settings = scratch_project
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "shootings.csv").write_text(
        "indicator,geo,period,value,unit\nshootings,BE-BRU,2023,61,count\n", encoding="utf-8"
    )
    refresh(settings)
    row = next(line for line in run_cli(settings, "status").output.splitlines() if "│ inbox" in line)
    assert "success" in row and "with each refresh and the scheduler's inbox job" in row
    status = json.loads(run_cli(settings, "status", "--json").output)
    inbox = next(p for p in status["pipelines"] if p["pipeline"] == "inbox")
    assert inbox["has_spec"] is False and inbox["next_run"] is None and inbox["rows_current"] == 1


def test_sources_show_only_as_much_of_the_publication_date_as_the_source_states(refreshed):
    result = run_cli(refreshed, "status")
    lines = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.startswith("│") and "-" in line.split("│")[1]
    }
    assert "2025-09 " in lines["news-2025-09-us-visit-antwerp"]
    assert "unknown" in lines["vocal-2025-belgium-narco-paradox"]
    assert "2025-01-01" not in lines["gitoc-oci-2025-nl-be"] and " 2025 " in lines["gitoc-oci-2025-nl-be"]

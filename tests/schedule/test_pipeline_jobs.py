"""The scheduler's pipeline jobs follow `pipelines/` while it runs: specs added, rescheduled, disabled, deleted.

The reload is driven directly on a real scheduler built by `build_scheduler` and started paused (its jobs have
their next run times, none runs); one test runs the whole scheduler with a fast reload.
"""

from __future__ import annotations

import datetime as dt
import logging
import textwrap
import threading

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from octracker.content.schedules import crontab_trigger
from octracker.content.specs import load_specs
from octracker.extract.extractors import EXTRACTORS, extract_narrative
from octracker.load.pipeline import refresh
from octracker.schedule.scheduler import (
    RELOAD_EXECUTOR,
    RELOAD_JOB,
    ScheduledJobs,
    build_scheduler,
    describe_jobs,
    reload_pipelines,
    run_scheduler,
)
from published import read_rows

UTC = dt.UTC
LOGGER = "octracker.schedule.scheduler"
KEEP = ("weekly", "daily")


def write_spec(settings, name: str, schedule: str | None = "0 6 * * *", *, extra: str = "", extractor="narrative"):
    """A narrative pipeline over one of the project's documents: quick to run, a source of its own."""
    schedule_line = f'schedule = "{schedule}"\n' if schedule else ""
    (settings.pipelines_dir / f"{name}.toml").write_text(
        f'extractor = "{extractor}"\ndocument = "documents/002_1048ef5845389a1f.txt"\n{schedule_line}{extra}'
        f'[source]\nsource_id = "{name}"\n',
        encoding="utf-8",
    )


@pytest.fixture
def project(scratch_project):
    """A scratch project whose pipelines are two quick ones of its own, `weekly` and `daily` at 05:00 UTC."""
    for spec in scratch_project.pipelines_dir.glob("*.toml"):
        spec.unlink()
    write_spec(scratch_project, "weekly", "0 5 * * 1")
    write_spec(scratch_project, "daily", "0 5 * * *")
    return scratch_project


def edit_spec(settings, name: str, old: str, new: str) -> None:
    path = settings.pipelines_dir / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def table(project):
    """A scheduler as `octracker schedule` builds it (the two pipelines succeeded just now), started paused."""
    now = dt.datetime.now(UTC)
    jobs = ScheduledJobs(project)
    scheduler = build_scheduler(
        jobs, load_specs(project.pipelines_dir), now=now, last_successes=dict.fromkeys(KEEP, now)
    )
    scheduler.start(paused=True)
    yield scheduler, jobs
    scheduler.shutdown(wait=False)


def pipeline_table(scheduler) -> dict[str, dt.datetime]:
    """Job name ([crontab] included) -> next run, for the pipeline jobs only."""
    return {
        job.name: job.next_run_time
        for job in scheduler.get_jobs()
        if job.id not in ("inbox", "alerts_send", RELOAD_JOB, "record_missed_runs")
    }


def messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_spec_added_while_the_scheduler_runs_gets_a_job_and_runs_at_once_when_overdue(table, project, caplog):
    scheduler, jobs = table
    write_spec(project, "extra_feed", "0 6 * * *")  # never succeeded: overdue since its last 06:00
    now = dt.datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        reload_pipelines(scheduler, jobs, now=now)
    assert pipeline_table(scheduler)["extra_feed [0 6 * * *]"] == now
    assert set(pipeline_table(scheduler)) == {
        "extra_feed [0 6 * * *]",
        "weekly [0 5 * * 1]",
        "daily [0 5 * * *]",
    }
    [added] = [m for m in messages(caplog, logging.INFO) if m.startswith("extra_feed [0 6 * * *]: scheduled")]
    assert "extra_feed.toml" in added
    # Read again with nothing changed: nothing moves, nothing is logged.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert reload_pipelines(scheduler, jobs) == []
    assert pipeline_table(scheduler)["extra_feed [0 6 * * *]"] == now
    assert messages(caplog, logging.INFO) == []


def test_an_added_spec_that_succeeded_since_its_last_fire_waits_for_its_trigger(table, project):
    scheduler, jobs = table
    write_spec(project, "extra_feed", "0 6 * * *")
    [result] = refresh(project, ["extra_feed"])  # e.g. run by hand before it was given a schedule
    assert result.error is None
    now = dt.datetime.now(UTC)
    reload_pipelines(scheduler, jobs, now=now)
    expected = crontab_trigger("0 6 * * *").get_next_fire_time(None, now)
    assert pipeline_table(scheduler)["extra_feed [0 6 * * *]"] == expected > now


def test_a_changed_schedule_reschedules_the_job(table, project, caplog):
    scheduler, jobs = table
    refresh(project, ["weekly"])  # succeeded just now: not overdue under its new schedule either
    edit_spec(project, "weekly", 'schedule = "0 5 * * 1"', 'schedule = "30 7 * * *"')
    now = dt.datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        reload_pipelines(scheduler, jobs, now=now)
    table_now = pipeline_table(scheduler)
    assert "weekly [0 5 * * 1]" not in table_now
    assert table_now["weekly [30 7 * * *]"] == crontab_trigger("30 7 * * *").get_next_fire_time(None, now)
    assert [m for m in messages(caplog, logging.INFO) if m.startswith("weekly")] == [
        f"weekly [30 7 * * *]: rescheduled from weekly [0 5 * * 1] "
        f"({project.pipelines_dir / 'weekly.toml'}; next run "
        f"{table_now['weekly [30 7 * * *]']:%Y-%m-%d %H:%M:%S} UTC)"
    ]


def test_a_disabled_unscheduled_or_deleted_spec_loses_its_job(table, project, caplog):
    scheduler, jobs = table
    write_spec(project, "extra_feed")
    reload_pipelines(scheduler, jobs)
    assert len(pipeline_table(scheduler)) == 3
    write_spec(project, "weekly", "0 5 * * 1", extra="enabled = false\n")
    write_spec(project, "daily", None)
    (project.pipelines_dir / "extra_feed.toml").unlink()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        reload_pipelines(scheduler, jobs)
    assert pipeline_table(scheduler) == {}
    # The engine's own jobs stay.
    assert {job.id for job in scheduler.get_jobs()} >= {"inbox", RELOAD_JOB}
    assert sorted(messages(caplog, logging.INFO)) == [
        f"daily [0 5 * * *]: no longer scheduled ({project.pipelines_dir / 'daily.toml'} has no schedule)",
        f"extra_feed [0 6 * * *]: no longer scheduled (no spec in {project.pipelines_dir} names it any more)",
        f"weekly [0 5 * * 1]: no longer scheduled ({project.pipelines_dir / 'weekly.toml'} is disabled)",
    ]
    # Enabled again: back as at start.
    edit_spec(project, "weekly", "enabled = false", "enabled = true")
    reload_pipelines(scheduler, jobs)
    assert list(pipeline_table(scheduler)) == ["weekly [0 5 * * 1]"]


def test_a_bad_spec_keeps_every_job_and_is_logged_once_until_fixed(table, project, caplog):
    scheduler, jobs = table
    before = describe_jobs(scheduler)
    # Two changes that would drop a job and reschedule another, and one file that does not load.
    (project.pipelines_dir / "daily.toml").unlink()
    edit_spec(project, "weekly", 'schedule = "0 5 * * 1"', 'schedule = "0 9 * * *"')
    (project.pipelines_dir / "half_written.toml").write_text("extractor = [unclosed\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _minute in range(3):
            assert reload_pipelines(scheduler, jobs) == []
    assert describe_jobs(scheduler) == before
    [error] = messages(caplog, logging.ERROR)
    assert "half_written.toml: not valid TOML at line 1" in error
    assert "keeps its pipeline jobs as they are" in error and "fix the file named" in error

    # Another problem (a bad crontab) is a new error, logged once too.
    caplog.clear()
    (project.pipelines_dir / "half_written.toml").unlink()
    edit_spec(project, "weekly", 'schedule = "0 9 * * *"', 'schedule = "0 9 * *"')
    with caplog.at_level(logging.INFO, logger=LOGGER):
        reload_pipelines(scheduler, jobs)
        reload_pipelines(scheduler, jobs)
    assert describe_jobs(scheduler) == before
    [error] = messages(caplog, logging.ERROR)
    assert "weekly.toml: schedule '0 9 * *' must have 5 crontab fields" in error

    # Fixed: said once, and the table follows the folder again.
    caplog.clear()
    edit_spec(project, "weekly", 'schedule = "0 9 * *"', 'schedule = "0 9 * * *"')
    with caplog.at_level(logging.INFO, logger=LOGGER):
        reload_pipelines(scheduler, jobs)
        reload_pipelines(scheduler, jobs)
    assert messages(caplog, logging.ERROR) == []
    assert [m for m in messages(caplog, logging.INFO) if "reads again" in m] == [
        f"{project.pipelines_dir} reads again: pipeline jobs follow its specs"
    ]
    assert list(pipeline_table(scheduler)) == ["weekly [0 9 * * *]"]


def test_the_reload_is_a_minutely_job_on_a_worker_of_its_own(table):
    scheduler, _jobs = table
    job = scheduler.get_job(RELOAD_JOB)
    assert job.executor == RELOAD_EXECUTOR
    assert job.name == "reload pipelines/ [* * * * *]"
    assert job.next_run_time - dt.datetime.now(UTC) <= dt.timedelta(minutes=1)


def test_a_spec_added_during_a_long_run_is_scheduled_before_the_run_ends_and_then_runs(project, monkeypatch):
    """The whole scheduler, its reload made fast: the new job appears while a pipeline holds the worker."""
    refresh(project, list(KEEP))  # not overdue: only the blocked pipeline runs at start
    started, release = threading.Event(), threading.Event()

    def blocked(document, spec, catalog):
        started.set()
        release.wait(60)
        return extract_narrative(document, spec, catalog)

    monkeypatch.setitem(EXTRACTORS, "blocked_for_test", blocked)
    write_spec(project, "a_long_one", extractor="blocked_for_test")

    def trigger_for(cron: str, where: str):
        return IntervalTrigger(seconds=0.2, timezone=UTC) if "reload" in where else crontab_trigger(cron, where)

    stop, ready, held = threading.Event(), threading.Event(), []

    def on_start(scheduler):
        held.append(scheduler)
        ready.set()

    thread = threading.Thread(
        target=run_scheduler, args=(project, stop), kwargs={"trigger_for": trigger_for, "on_start": on_start}
    )
    thread.start()
    try:
        assert ready.wait(60) and started.wait(60)
        write_spec(project, "extra_feed", "0 6 * * *")
        deadline = dt.datetime.now(UTC) + dt.timedelta(seconds=30)
        while held[0].get_job("extra_feed") is None and dt.datetime.now(UTC) < deadline:
            stop.wait(0.1)
        assert held[0].get_job("extra_feed") is not None, "not scheduled while a pipeline run held the worker"
        assert not release.is_set()
        release.set()
        deadline = dt.datetime.now(UTC) + dt.timedelta(seconds=120)
        done = []
        while not done and dt.datetime.now(UTC) < deadline:
            stop.wait(0.2)
            if project.published_path.exists():
                done = read_rows(
                    project.published_path,
                    "SELECT status, trigger FROM runs WHERE pipeline = 'extra_feed'",
                )
        assert done == [("success", "schedule")]
    finally:
        release.set()
        stop.set()
        thread.join(60)

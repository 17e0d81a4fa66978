"""The scheduler: crontab triggers in UTC, catch-up on start, missed and failed runs recorded.

Also a clean stop, and one scheduler per warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from apscheduler.triggers.interval import IntervalTrigger

from conftest import child_env, octracker_command, run_octracker
from lakes import cli_options
from octracker.alerts.deliveries import SendReport
from octracker.content.schedules import crontab_trigger, previous_fire_time
from octracker.errors import OctrackerError, SpecError, WarehouseBusy
from octracker.extract.extractors import EXTRACTORS, extract_narrative
from octracker.load.pipeline import refresh
from octracker.schedule import scheduler as scheduler_module
from octracker.schedule.pipeline_jobs import is_overdue
from octracker.schedule.scheduler import (
    ScheduledJobs,
    build_scheduler,
    hold_scheduler_lock,
    read_last_successes,
    run_scheduler,
)
from octracker.store.settings import build_settings
from published import read_rows
from webhook_receiver import refused_port

UTC = dt.UTC
SRC = Path(__file__).resolve().parents[2] / "src"
KEEP = ("oci_2021_belgium", "article_judge_letter")


@pytest.fixture
def small_project(scratch_project):
    """A scratch project with two quick pipelines only, so scheduled refreshes take a fraction of a second."""
    for spec in scratch_project.pipelines_dir.glob("*.toml"):
        if spec.stem not in KEEP:
            spec.unlink()
    return scratch_project


def add_slow_pipeline(settings, name: str = "a_slow_one", seconds: float = 2.5, marker: Path | None = None) -> None:
    """A pipeline whose extractor takes a while (registered by the test or the child process)."""
    (settings.pipelines_dir / f"{name}.toml").write_text(
        textwrap.dedent(f"""\
        extractor = "slow_for_test"
        document = "documents/002_1048ef5845389a1f.txt"
        schedule = "0 5 * * *"
        precedence = 30
        [source]
        source_id = "{name}"
        """),
        encoding="utf-8",
    )


def slow_extractor(seconds: float, marker: Path | None = None):
    def extract(document, spec, catalog):
        if marker is not None:
            marker.write_text("started")
        time.sleep(seconds)
        return extract_narrative(document, spec, catalog)

    return extract


def runs(settings, where: str = "TRUE", *, path: Path | None = None) -> list[tuple]:
    """Rows of `runs`, from the published copy unless told (never the file a scheduler job may hold)."""
    path = path or settings.published_path
    if not path.exists():
        return []
    return read_rows(path, f"SELECT pipeline, status, trigger, error FROM runs WHERE {where} ORDER BY started_at")


def runs_in_warehouse(settings, where: str = "TRUE") -> list[tuple]:
    return runs(settings, where, path=settings.warehouse)


def wait_for(condition, timeout: float = 120.0, every: float = 0.1):
    """`condition()` once it is true; the time limit is a loaded machine's (a scheduled job's refresh and publish)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def fast(seconds: float = 1.0):
    """A trigger factory that ignores the cron and fires every `seconds` (no waiting for real minutes)."""
    return lambda cron, where: IntervalTrigger(seconds=seconds, timezone=UTC)


@pytest.fixture
def scheduler_thread():
    """Run `run_scheduler` in a thread; stop it (and wait) at the end of the test."""
    started = []

    def start(settings, **kwargs):
        stop = threading.Event()
        ready = threading.Event()
        errors: list[BaseException] = []

        def target():
            try:
                run_scheduler(settings, stop, on_start=lambda s: ready.set(), **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                errors.append(exc)
                ready.set()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        ready.wait(20)
        started.append((stop, thread))
        return stop, thread, errors

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(60)


# Triggers --------------------------------------------------------------------------------------------------


def test_crontab_weekdays_count_from_sunday_as_in_cron():
    # APScheduler 3 counts weekdays from Monday = 0; a spec's "1" must still mean Monday.
    trigger = crontab_trigger("0 5 * * 1")
    sunday = dt.datetime(2025, 9, 7, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, sunday) == dt.datetime(2025, 9, 8, 5, 0, tzinfo=UTC)
    assert crontab_trigger("0 5 * * 0").get_next_fire_time(None, sunday) == dt.datetime(2025, 9, 14, 5, 0, tzinfo=UTC)
    weekdays = crontab_trigger("30 6 * * 1-5")
    friday = dt.datetime(2025, 9, 12, 7, 0, tzinfo=UTC)
    assert weekdays.get_next_fire_time(None, friday) == dt.datetime(2025, 9, 15, 6, 30, tzinfo=UTC)


def test_a_bad_schedule_names_the_spec_and_the_expected_form():
    with pytest.raises(SpecError, match=r"oci\.toml: schedule '0 5 \* \*' must have 5 crontab fields"):
        crontab_trigger("0 5 * *", "oci.toml: schedule")
    with pytest.raises(SpecError, match="not a valid crontab expression"):
        crontab_trigger("0 25 * * *")


def test_previous_fire_time_is_the_last_scheduled_time_before_now():
    wednesday = dt.datetime(2025, 9, 10, 9, 17, tzinfo=UTC)
    assert previous_fire_time(crontab_trigger("0 5 * * 1"), wednesday) == dt.datetime(2025, 9, 8, 5, 0, tzinfo=UTC)
    assert previous_fire_time(crontab_trigger("*/5 * * * *"), wednesday) == dt.datetime(2025, 9, 10, 9, 15, tzinfo=UTC)
    assert previous_fire_time(crontab_trigger("0 0 1 1 *"), wednesday) == dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC)


def test_a_pipeline_is_overdue_when_it_has_not_succeeded_since_its_previous_fire_time():
    weekly = crontab_trigger("0 5 * * 1")
    wednesday = dt.datetime(2025, 9, 10, 9, 0, tzinfo=UTC)
    assert is_overdue(weekly, None, wednesday)
    assert is_overdue(weekly, dt.datetime(2025, 9, 8, 4, 59, tzinfo=UTC), wednesday)
    assert not is_overdue(weekly, dt.datetime(2025, 9, 8, 5, 3, tzinfo=UTC), wednesday)


# Catch-up, fast triggers, misses and failures ------------------------------------------------------------------


def test_on_start_only_the_overdue_pipeline_runs_at_once(small_project, scheduler_thread):
    refresh(small_project, ["oci_2021_belgium"])  # succeeded just now: not due before its next 05:00 / Monday
    now = dt.datetime.now(UTC)
    jobs = ScheduledJobs(small_project)
    from octracker.content.specs import load_specs

    scheduler = build_scheduler(
        jobs, load_specs(small_project.pipelines_dir), now=now, last_successes=read_last_successes(small_project)
    )
    # Before start, a job has a next run time only when one was set: the overdue one's is now.
    next_runs = {job.id: getattr(job, "next_run_time", None) for job in scheduler.get_jobs()}
    assert next_runs["article_judge_letter"] == now  # never succeeded: catches up at once
    assert next_runs["oci_2021_belgium"] is None  # waits for its trigger

    stop, thread, errors = scheduler_thread(small_project)
    scheduled = wait_for(lambda: runs(small_project, "trigger = 'schedule'"))
    assert scheduled == [("article_judge_letter", "success", "schedule", None)]
    assert not errors


@pytest.mark.slow
def test_a_fast_trigger_runs_the_pipeline_repeatedly_and_frees_the_warehouse_between_jobs(
    small_project, scheduler_thread
):
    stop, thread, errors = scheduler_thread(small_project, trigger_for=fast(1.0))
    wait_for(lambda: len(runs(small_project, "trigger = 'schedule' AND pipeline = 'oci_2021_belgium'")) >= 2)
    # A manual refresh in another process gets the warehouse between two jobs.
    manual = run_octracker(small_project, "refresh", "oci_2021_belgium", timeout=120)
    assert manual.returncode == 0, manual.stderr
    stop.set()
    thread.join(60)
    assert not errors
    statuses = {status for _, status, _, _ in runs_in_warehouse(small_project)}
    assert statuses == {"success"}
    assert ("oci_2021_belgium", "success", "manual", None) in runs_in_warehouse(small_project)


def test_a_run_that_waits_past_the_misfire_grace_is_recorded_as_missed(small_project, scheduler_thread, monkeypatch):
    add_slow_pipeline(small_project, seconds=2.5)
    monkeypatch.setitem(EXTRACTORS, "slow_for_test", slow_extractor(2.5))
    # Every pipeline is overdue, so all start "now", the slow one first (by name); the others wait behind it
    # for longer than a 1 s grace.
    stop, thread, errors = scheduler_thread(small_project, misfire_grace_s=1)
    missed = wait_for(
        lambda: len(runs(small_project, "status = 'missed'")) >= 2 and runs(small_project, "status = 'missed'")
    )
    stop.set()
    thread.join(60)
    assert not errors
    assert {pipeline for pipeline, *_ in missed} >= set(KEEP)
    for _, _, trigger, error in missed:
        assert trigger == "schedule"
        assert error.startswith("missed: scheduled for ") and "1 s grace" in error


def test_a_job_that_fails_outside_a_pipeline_run_is_recorded(small_project, scheduler_thread):
    stop, thread, errors = scheduler_thread(small_project, trigger_for=fast(1.0))
    wait_for(lambda: runs(small_project, "trigger = 'schedule'"))
    (small_project.pipelines_dir / "oci_2021_belgium.toml").write_text("extractor = [unclosed\n")
    failed = wait_for(lambda: runs(small_project, "status = 'failed' AND trigger = 'schedule'"))
    stop.set()
    thread.join(60)
    pipeline, status, trigger, error = failed[0]
    assert pipeline in KEEP
    assert "oci_2021_belgium.toml: not valid TOML" in error


def scheduled_jobs(settings) -> dict:
    from octracker.content.specs import load_specs

    scheduler = build_scheduler(
        ScheduledJobs(settings), load_specs(settings.pipelines_dir), now=dt.datetime.now(UTC), last_successes={}
    )
    return {job.id: job for job in scheduler.get_jobs()}


def test_alert_delivery_calls_the_alerts_send_function_with_the_environments_webhooks(
    small_project, monkeypatch, caplog
):
    calls = []
    monkeypatch.setattr(scheduler_module, "configured_webhooks", lambda urls: [f"webhook:{u}" for u in urls])
    monkeypatch.setattr(
        scheduler_module,
        "send_alerts",
        lambda settings, webhooks, secret, *, client, **stop_hooks: (
            calls.append((settings.warehouse, webhooks, secret, type(client).__name__)) or SendReport(delivered=1)
        ),
    )
    monkeypatch.delenv("OCTRACKER_WEBHOOK_URL", raising=False)
    with caplog.at_level("WARNING", logger="octracker.schedule.scheduler"):
        assert "alerts_send" not in scheduled_jobs(small_project)
    assert "no webhook configured (OCTRACKER_WEBHOOK_URL is empty)" in caplog.text

    monkeypatch.setenv("OCTRACKER_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("OCTRACKER_WEBHOOK_SECRET", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    job = scheduled_jobs(small_project)["alerts_send"]
    job.func(*job.args)
    assert calls == [
        (
            small_project.warehouse,
            ["webhook:http://127.0.0.1:9/hook"],
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "Client",
        )
    ]


# Content edited while the scheduler runs ------------------------------------------------------------------

#: Two rows of a long table; the second (line 3, 92 shootings) is the one a tightened contract refuses.
SHOOTINGS = "indicator,geo,period,value,unit\nshootings,BE-BRU,2023,61,count\nshootings,BE-BRU,2024,92,count\n"
#: The contract's `value` field as the project has it, and tightened to refuse more than 80.
LOOSE = "value: pl.Float64 = pa.Field(nullable=False)"
TIGHT = "value: pl.Float64 = pa.Field(nullable=False, le=80)"


def add_police_table(settings) -> None:
    (settings.pipelines_dir / "documents" / "police.csv").write_text(SHOOTINGS, encoding="utf-8")
    (settings.pipelines_dir / "police.toml").write_text(
        textwrap.dedent("""\
        extractor = "observations_long"
        document = "documents/police.csv"
        schedule = "0 6 * * *"
        precedence = 80
        [source]
        source_id = "brussels-police"
        publisher = "Brussels police statistics (test)"
        """),
        encoding="utf-8",
    )


def edit_contract(settings, old: str, new: str) -> None:
    """Edit `schemas/observation.py` in place, as a data engineer does while the scheduler runs."""
    path = settings.schemas_dir / "observation.py"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def scheduled_police_run(settings) -> tuple[str, str | None]:
    """One scheduled refresh of the table, in this process (the scheduler's): the status and error of its run."""
    ScheduledJobs(settings).run_pipelines(["police"])
    [*_, (_, status, trigger, error)] = runs(settings, "pipeline = 'police'")
    assert trigger == "schedule"
    return status, error


def first_police_run(tmp_path: Path, contract: str) -> tuple[str, str | None]:
    """The run of the table loaded first under `contract`, in a project (and warehouse) of its own."""
    from conftest import copy_project_content

    settings = build_settings(copy_project_content(tmp_path / "first"), tmp_path / "first.duckdb")
    add_police_table(settings)
    edit_contract(settings, LOOSE, contract)
    return scheduled_police_run(settings)


def test_a_contract_tightened_while_the_scheduler_runs_refuses_the_row_it_now_forbids(small_project, tmp_path):
    add_police_table(small_project)
    assert scheduled_police_run(small_project) == ("success", None)
    edit_contract(small_project, LOOSE, TIGHT)
    status, error = scheduled_police_run(small_project)
    assert status == "failed"
    assert "police.csv" in error and "line 3" in error and "less_than_or_equal_to(80)" in error, error
    # Refused as a first load under the tightened contract refuses it.
    assert (status, error) == first_police_run(tmp_path, TIGHT)
    assert read_rows(small_project.published_path, "SELECT value FROM series WHERE indicator_id = 'shootings'") == [
        (61.0,),
        (92.0,),
    ]


def test_a_contract_loosened_while_the_scheduler_runs_lets_the_row_in(small_project):
    add_police_table(small_project)
    edit_contract(small_project, LOOSE, TIGHT)
    status, error = scheduled_police_run(small_project)
    assert status == "failed" and "less_than_or_equal_to(80)" in error, error
    edit_contract(small_project, TIGHT, LOOSE)
    assert scheduled_police_run(small_project) == ("success", None)
    assert read_rows(
        small_project.published_path, "SELECT year, value FROM series WHERE indicator_id = 'shootings' ORDER BY year"
    ) == [(2023, 61.0), (2024, 92.0)]


# One scheduler per warehouse; a clean stop ------------------------------------------------------------------


def test_a_second_scheduler_on_the_same_warehouse_refuses_to_start(small_project):
    with hold_scheduler_lock(small_project) as lock:
        second = run_octracker(small_project, "schedule", timeout=60)
        assert second.returncode == 1
        assert "another scheduler is already running on this warehouse" in second.stderr
        assert f"pid {os.getpid()}" in second.stderr
        assert lock.name == "octracker.duckdb.scheduler.lock"
    # Once the first one has gone, the lock is free again.
    with hold_scheduler_lock(small_project):
        with pytest.raises(WarehouseBusy):
            with hold_scheduler_lock(small_project):
                pass


def test_a_scheduler_on_a_lake_it_cannot_open_stops_and_says_why(lake_settings):
    # A wrong password is not "no pipeline ever succeeded": the scheduler must not start and run every job.
    options, lake_env = cli_options(lake_settings)
    child = subprocess.run(
        [sys.executable, "-m", "octracker", *options, "schedule"],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(**{**lake_env, "PGPASSWORD": "Wr0ngPassw0rd"}),
    )
    assert child.returncode == 1, child.stderr
    assert "cannot open the lake" in child.stderr and "password authentication failed" in child.stderr
    assert "Scheduler running" not in child.stderr and "Wr0ngPassw0rd" not in child.stderr


def test_a_lake_not_created_yet_has_no_successes_and_the_scheduler_starts(lake_settings, tmp_path):
    local = build_settings(project=lake_settings.project, warehouse=f"ducklake:{tmp_path}/new.ducklake", environ={})
    for settings in (lake_settings, local):
        assert read_last_successes(settings) == {}


def test_a_published_copy_that_is_not_damaged_but_unreadable_stops_the_scheduler(small_project):
    # A directory where the copy should be: publishing again would not help, the operator has to act.
    small_project.published_path.mkdir(parents=True)
    started = run_octracker(small_project, "schedule", timeout=120)
    assert started.returncode == 1, started.stderr
    assert f"Error: {small_project.published_path}: the published copy cannot be read (" in started.stderr
    assert "Is a directory" in started.stderr and "publishing it again" not in started.stderr
    assert small_project.published_path.is_dir()


def test_a_published_copy_failing_its_checksums_is_published_again(small_project):
    """Damage DuckDB finds only by its checksums (a database header zeroed, the file's size and magic intact)."""
    refresh(small_project, ["oci_2021_belgium"])
    published = small_project.published_path
    before = read_last_successes(small_project)
    content = bytearray(published.read_bytes())
    content[4096 : 4096 + 64] = bytes(64)
    published.write_bytes(bytes(content))
    with pytest.raises(duckdb.IOException):
        duckdb.connect(str(published), read_only=True)
    assert read_last_successes(small_project) == before and "oci_2021_belgium" in before


def test_a_published_copy_another_program_writes_to_is_left_alone(small_project):
    """Not damage: the program holding it (an analyst's DuckDB shell opened without -readonly) keeps its file."""
    refresh(small_project, ["oci_2021_belgium"])
    published = small_project.published_path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(published)!r}); print(1); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1"
        inode = published.stat().st_ino
        with pytest.raises(OctrackerError, match="the published copy cannot be read .*close any program writing"):
            read_last_successes(small_project)
        assert published.stat().st_ino == inode
    finally:
        holder.communicate("", timeout=60)


FAILING_START = """
import sys, time
from octracker.cli import main
from octracker.schedule import scheduler

def fail(settings):
    time.sleep(0.5)  # scrapes of the metrics endpoint are being answered by now
    raise RuntimeError("no last successes")

scheduler.read_last_successes = fail
main(sys.argv[1:])
"""


def test_an_unexpected_error_at_start_during_scrapes_exits_1_with_the_message(small_project):
    # A scrape reads the warehouse through DuckDB; the process must not end while one still does (SIGABRT, -6).
    refresh(small_project, [])
    stop = threading.Event()

    def scrape(port: int) -> None:
        while not stop.is_set():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            except OSError:
                time.sleep(0.005)

    try:
        for _attempt in range(3):
            port = refused_port()
            scrapers = [threading.Thread(target=scrape, args=(port,), daemon=True) for _ in range(4)]
            for thread in scrapers:
                thread.start()
            child = subprocess.run(
                [sys.executable, "-c", FAILING_START, *octracker_command(small_project, "schedule")[3:]]
                + ["--metrics-port", str(port)],
                capture_output=True,
                text=True,
                timeout=120,
                env=child_env(),
            )
            assert child.returncode == 1, child.stderr
            assert "Error: unexpected RuntimeError: no last successes" in child.stderr
    finally:
        stop.set()


CHILD = """
import sys, time
from pathlib import Path
from octracker.cli import main
from octracker.extract.extractors import EXTRACTORS, extract_narrative

marker = Path(sys.argv[1])

def slow(document, spec, catalog):
    marker.write_text("started")
    time.sleep(3)
    return extract_narrative(document, spec, catalog)

EXTRACTORS["slow_for_test"] = slow
main(sys.argv[2:])
"""


@pytest.mark.slow
def test_sigterm_during_a_job_lets_it_finish_and_exits_0(small_project, tmp_path):
    for spec in small_project.pipelines_dir.glob("*.toml"):
        spec.unlink()
    add_slow_pipeline(small_project)
    marker = tmp_path / "started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(marker),
            "--project",
            str(small_project.project),
            "--warehouse",
            str(small_project.warehouse),
            "schedule",
        ],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(marker.exists, timeout=60)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "SIGTERM received: finishing the running job" in err
    assert runs_in_warehouse(small_project) == [("a_slow_one", "success", "schedule", None)]
    # The job's refresh published as usual before the process left.
    assert runs(small_project) == [("a_slow_one", "success", "schedule", None)]

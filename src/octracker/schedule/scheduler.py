"""The scheduler: one process, UTC, a job per pipeline from its spec's cron, plus the inbox and alert delivery.

Every pipeline job calls `octracker.load.pipeline.refresh` (the code path of `octracker refresh`) and opens the
warehouse only while it runs, so a manual refresh can run between jobs. Pipeline jobs run one at a time (one
worker thread): DuckDB allows one writer per file. Alert delivery runs on a worker of its own, so a slow
receiver delays no pipeline; it writes only between requests, taking the writer in turn with the pipeline jobs.
A lock file beside the warehouse keeps a second scheduler out. Once a minute the scheduler reads `pipelines/`
again and brings its pipeline jobs in line with the specs (`reload_pipelines`), on a worker of its own too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from octracker.alerts.alertmanager import URL_ENV as ALERTMANAGER_URL_ENV
from octracker.alerts.alertmanager import alertmanager_url_from_env, report_url_from_env
from octracker.alerts.deliveries import configured_webhooks, send_alerts
from octracker.alerts.webhooks import SECRET_ENV, URL_ENV, webhook_secret_from_env, webhook_urls_from_env
from octracker.content.schedules import crontab_trigger
from octracker.content.specs import ALERTS_JOB, RECORD_JOB, RELOAD_JOB, PipelineSpec, load_specs
from octracker.errors import NothingPublished, OctrackerError, WarehouseBusy
from octracker.httpclient import new_client
from octracker.load.inbox import INBOX_PIPELINE, list_inbox_files
from octracker.load.pipeline import open_refresh, refresh
from octracker.schedule.pipeline_jobs import schedule_pipelines
from octracker.store.query import open_locked_reader
from octracker.store.runs import new_run_id
from octracker.store.settings import Settings
from octracker.store.warehouse import utc_now

log = logging.getLogger("octracker.schedule.scheduler")

UTC = dt.UTC
LOCK_SUFFIX = ".scheduler.lock"
#: A busy or sleeping machine catches up within this window instead of skipping the run.
MISFIRE_GRACE_S = 6 * 3600
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S}
#: Scheduled jobs wait this long for a manual refresh to release the warehouse before failing.
JOB_LOCK_TIMEOUT_S = 300.0
DEFAULT_INBOX_CRON = "*/5 * * * *"
DEFAULT_ALERTS_CRON = "*/10 * * * *"
ALERTS_EXECUTOR = "alerts"
RELOAD_EXECUTOR = "reload"
#: How often `pipelines/` is read again: a spec added, rescheduled, disabled or deleted takes effect within a minute.
RELOAD_CRON = "* * * * *"


def read_last_successes(settings: Settings) -> dict[str, dt.datetime]:
    """When each pipeline last succeeded (UTC), from the published copy (or the lake): never waits on a writer.

    A published copy that is damaged (not a database, cut short, failing its checksums) is published again from
    the warehouse first: it is only a copy, and the scheduler must start. Any other failure to read it (a
    directory in its place, no permission, a program writing to it) is the operator's to fix, and stops the
    scheduler saying so.
    """
    try:
        return _last_successes(settings)
    except duckdb.Error as exc:
        if settings.lake is not None:
            raise
        reason = str(exc).strip().splitlines()[0]
        if not _damaged(settings.published_path, exc):
            raise OctrackerError(
                f"{settings.published_path}: the published copy cannot be read ({reason}); close any program "
                "writing to it, make it readable to the user running octracker, or delete it: the next refresh "
                "publishes it again"
            ) from None
        log.warning(
            "%s: the published copy cannot be read (%s); publishing it again from the warehouse",
            settings.published_path,
            reason,
        )
    with open_refresh(settings):
        pass  # publishes on the way out
    log.warning("%s: published again from the warehouse; analysts read it as before", settings.published_path)
    return _last_successes(settings)


def _damaged(path: Path, exc: duckdb.Error) -> bool:
    """DuckDB could not read the file because it is not a whole database (not one at all, cut short, failing its
    checksums), told from the file rather than from DuckDB's wording: an I/O error on a regular file this user
    may read and no other program holds open for writing. A directory in its place, no permission to read, or a
    program writing to it is not damage: publishing again would not help, or would overwrite its work."""
    if not isinstance(exc, duckdb.IOException):
        return False
    try:
        if not path.is_file() or not os.access(path, os.R_OK):
            return False
        with open(path, "rb") as fh:
            # A POSIX record lock, the kind DuckDB takes: a shared one is refused while a writer holds the file.
            fcntl.lockf(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _last_successes(settings: Settings) -> dict[str, dt.datetime]:
    target = settings.read_target
    if isinstance(target, Path) and not target.exists():
        return {}
    # Opened as the metrics server opens it: DuckDB refuses a second connection to a file in one process
    # with another configuration.
    try:
        con = open_locked_reader(target)
    except NothingPublished:
        return {}  # a lake not created yet: its first job creates it
    try:
        rows = con.execute(
            "SELECT pipeline, MAX(finished_at) FROM runs WHERE status = 'success' GROUP BY pipeline"
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()
    return {name: finished.replace(tzinfo=UTC) for name, finished in rows if finished is not None}


def scheduler_is_running(settings: Settings) -> bool:
    """Whether a scheduler holds this warehouse's lock now (another process, or this one)."""
    path = settings.warehouse.with_name(settings.warehouse.name + LOCK_SUFFIX)
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def hold_scheduler_lock(settings: Settings) -> Iterator[Path]:
    """An OS advisory lock beside the warehouse for the scheduler's lifetime; a second scheduler is refused."""
    path = settings.warehouse.with_name(settings.warehouse.name + LOCK_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh: IO[str] = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            raise WarehouseBusy(
                f"{settings.warehouse}: another scheduler is already running on this warehouse ({holder}; lock "
                f"{path}); stop it first, or point this one at another warehouse with --warehouse"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {utc_now():%Y-%m-%d %H:%M:%S} UTC\n")
        fh.flush()
        yield path
    finally:
        # Closing releases the lock; the file stays, so two starters never race on creating it.
        fh.close()


def find_alert_sender(
    environ: Mapping[str, str] = os.environ,
) -> tuple[Callable[[Settings, threading.Event], object] | None, str]:
    """Alert delivery as `octracker alerts send` does it, bound to the environment's webhooks and Alertmanager;
    or None and why not."""
    urls = webhook_urls_from_env(environ)
    alertmanager_url = alertmanager_url_from_env(environ)
    if not urls and alertmanager_url is None:
        return None, (
            f"no webhook configured ({URL_ENV} is empty) and no Alertmanager ({ALERTMANAGER_URL_ENV}); "
            "scheduling no alert job"
        )
    secret = webhook_secret_from_env(environ)
    if secret is None and urls:
        log.warning("%s is not set: alerts go out unsigned and receivers cannot verify them", SECRET_ENV)
    webhooks = configured_webhooks(urls) if urls else []
    # Passed only when set, so a sender without the Alertmanager options still fits.
    to_alertmanager: dict[str, Any] = (
        {"alertmanager_url": alertmanager_url, "report_url": report_url_from_env(environ)} if alertmanager_url else {}
    )

    def deliver(settings: Settings, stopping: threading.Event | None = None) -> object:
        # A stop (SIGTERM) ends the retry waits and posts no further message; each POST ends within its timeout.
        stop = stopping or threading.Event()
        with new_client() as client:
            report = send_alerts(
                settings,
                webhooks,
                secret,
                client=client,
                sleep=stop.wait,
                should_stop=stop.is_set,
                **to_alertmanager,
            )
        log.info(
            "alerts send: %s delivered, %s pending, %s rejected", report.delivered, report.pending, report.rejected
        )
        for problem in report.problems:
            log.error("alerts send: %s", problem)
        return report

    return deliver, ""


@dataclass
class MissedRun:
    """A scheduled run that did not happen or failed outside a pipeline run, waiting to be written to `runs`."""

    pipeline: str
    scheduled_at: dt.datetime
    status: str  # missed / failed
    error: str


@dataclass
class ScheduledJobs:
    """What the scheduler runs: job functions bound to one settings object, and its bookkeeping."""

    settings: Settings
    misfire_grace_s: int = MISFIRE_GRACE_S
    stopping: threading.Event = field(default_factory=threading.Event)
    pending: list[MissedRun] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Why the last reload of `pipelines/` changed nothing (None when it loaded): logged once, not every minute.
    reload_problem: str | None = None

    @property
    def job_settings(self) -> Settings:
        # Scheduled jobs are patient: a manual refresh holding the warehouse is waited for, not failed on.
        return dataclasses.replace(self.settings, lock_timeout_s=max(self.settings.lock_timeout_s, JOB_LOCK_TIMEOUT_S))

    def run_pipelines(self, names: list[str]) -> None:
        """One scheduled refresh of the named pipelines; exactly `octracker refresh NAME`."""
        if self.stopping.is_set():
            log.info("not starting %s: the scheduler is stopping", ", ".join(names))
            return
        log.info("refresh %s (scheduled)", ", ".join(names))
        results = refresh(self.job_settings, names, trigger="schedule", stopping=self.stopping)
        if not results and self.stopping.is_set():
            log.info("%s: not run, the scheduler stopped while fetching its feeds", ", ".join(names))
        for result in results:
            if result.error:
                log.error("%s %s: %s", result.label, result.status, result.error)
            else:
                log.info(
                    "%s %s: %d new, %d revised, %d unchanged, %d retracted",
                    result.label,
                    result.status,
                    result.counts.new,
                    result.counts.revised,
                    result.counts.unchanged,
                    result.counts.retracted,
                )
        if self.pending:  # left over from a time the warehouse was busy
            self.record_pending()

    def run_inbox(self) -> None:
        """Ingest what waits in the inbox; an empty inbox opens nothing."""
        if list_inbox_files(self.settings.inbox_dir):
            self.run_pipelines([INBOX_PIPELINE])

    def send_alerts(self, sender: Callable[[Settings, threading.Event], object]) -> None:
        if self.stopping.is_set():
            return
        sender(self.job_settings, self.stopping)

    def note_event(self, event: JobExecutionEvent | JobSubmissionEvent) -> bool:
        """Listener for missed and failed jobs: log now, keep them to write to `runs` soon after.

        A fire skipped because the same job is still running or waiting is only logged: the run under way
        (or the next fire) does the work, so no refresh is lost. Returns whether a run was kept to record.
        """
        if event.job_id == RELOAD_JOB:
            # Not a pipeline's run: nothing to record; the reload logs its own problems and runs again in a minute.
            if event.code == EVENT_JOB_ERROR:
                log.error("reading %s again failed: %s", self.settings.pipelines_dir, getattr(event, "exception", None))
            return False
        if event.code == EVENT_JOB_MAX_INSTANCES:
            if event.job_id != RECORD_JOB:
                log.warning(
                    "%s: a fire was skipped because its previous run was still running or waiting", event.job_id
                )
            return False
        if event.job_id == RECORD_JOB:
            log.error("could not record missed or failed runs: %s", getattr(event, "exception", None))
            return False
        scheduled = (event.scheduled_run_time or dt.datetime.now(UTC)).astimezone(UTC)
        if event.code == EVENT_JOB_MISSED:
            status, error = (
                "missed",
                (
                    f"missed: scheduled for {scheduled:%Y-%m-%d %H:%M:%S} UTC but not started "
                    f"within the {describe_seconds(self.misfire_grace_s)} grace; runs at its next "
                    "fire time"
                ),
            )
            log.warning("%s %s", event.job_id, error)
        else:
            status, error = "failed", f"scheduled run failed before or outside the pipeline run: {event.exception}"
            log.error("%s %s", event.job_id, error)
        with self.lock:
            self.pending.append(MissedRun(event.job_id, scheduled.replace(tzinfo=None), status, error))
        return True

    def record_pending(self) -> int:
        """Write missed and failed scheduled runs to `runs` (trigger 'schedule'); kept for later if busy."""
        with self.lock:
            batch, self.pending = self.pending, []
        if not batch:
            return 0
        try:
            # Recorded like any refresh: schema current first, the published copy (what status reads) after.
            with open_refresh(self.settings) as (con, _):
                now = utc_now()
                con.executemany(
                    "INSERT INTO runs (run_id, pipeline, started_at, finished_at, status, error, trigger) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'schedule')",
                    [[new_run_id(now), m.pipeline, m.scheduled_at, now, m.status, m.error] for m in batch],
                )
        except (OctrackerError, duckdb.Error) as exc:
            log.warning("missed and failed runs not recorded yet (%s); trying again after the next job", exc)
            with self.lock:
                self.pending[:0] = batch
            return 0
        return len(batch)


def describe_seconds(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 and seconds % 3600 == 0 else f"{seconds} s"


def reload_pipelines(
    scheduler: BackgroundScheduler,
    jobs: ScheduledJobs,
    *,
    now: dt.datetime | None = None,
    trigger_for: Callable[[str, str], BaseTrigger] = crontab_trigger,
) -> list[str]:
    """Read `pipelines/` again and bring the pipeline jobs in line with it (the scheduler's minutely job).

    A folder that fails to load (a bad TOML, a bad crontab, two specs with one name) changes no job: the
    scheduler keeps its table until the folder loads again. Each distinct problem is logged once, and so is
    its end. Returns what changed.
    """
    if jobs.stopping.is_set():
        return []
    folder = jobs.settings.pipelines_dir
    try:
        changes = schedule_pipelines(
            scheduler,
            jobs,
            load_specs(folder),
            now=now or dt.datetime.now(UTC),
            last_successes=lambda: read_last_successes(jobs.settings),
            trigger_for=trigger_for,
        )
    except (OctrackerError, OSError, duckdb.Error) as exc:
        problem = str(exc).strip()
        if problem != jobs.reload_problem:
            jobs.reload_problem = problem
            log.error(
                "%s not read again: %s. The scheduler keeps its pipeline jobs as they are and reads the folder "
                "again every minute: fix the file named (or move it out of the folder)",
                folder,
                problem,
            )
        return []
    if jobs.reload_problem is not None:
        jobs.reload_problem = None
        log.info("%s reads again: pipeline jobs follow its specs", folder)
    for change in changes:
        log.info("%s", change)
    return changes


def build_scheduler(
    jobs: ScheduledJobs,
    specs: list[PipelineSpec],
    *,
    now: dt.datetime,
    last_successes: dict[str, dt.datetime],
    trigger_for: Callable[[str, str], BaseTrigger] = crontab_trigger,
    inbox_cron: str = DEFAULT_INBOX_CRON,
    alerts_cron: str = DEFAULT_ALERTS_CRON,
) -> BackgroundScheduler:
    """A scheduler (not started) with a job per scheduled pipeline, the inbox, alert delivery and the reload.

    An overdue pipeline's first run is now; the rest wait for their trigger.
    """
    scheduler = BackgroundScheduler(
        timezone=UTC,
        # Alert delivery has a worker of its own: a slow receiver (each POST may take its whole time limit, and
        # its retries wait between) never holds back a pipeline or the inbox. It writes to the warehouse only
        # between requests, one writer at a time with the pipeline jobs (see store.warehouse.this_process_writer).
        # The reload of pipelines/ has one too, so a long pipeline run does not hold back a new spec's job.
        executors={
            "default": ThreadPoolExecutor(max_workers=1),
            ALERTS_EXECUTOR: ThreadPoolExecutor(max_workers=1),
            RELOAD_EXECUTOR: ThreadPoolExecutor(max_workers=1),
        },
        job_defaults={**JOB_DEFAULTS, "misfire_grace_time": jobs.misfire_grace_s},
    )
    # The start-up table is the reload's, from an empty table: what it added is the table the start prints.
    schedule_pipelines(scheduler, jobs, specs, now=now, last_successes=lambda: last_successes, trigger_for=trigger_for)
    scheduler.add_job(
        jobs.run_inbox,
        trigger_for(inbox_cron, "--inbox-cron"),
        id=INBOX_PIPELINE,
        name=f"inbox [{inbox_cron}]",
        next_run_time=now,
    )
    sender, why_not = find_alert_sender()
    if sender is None:
        log.warning(why_not)
    else:
        scheduler.add_job(
            jobs.send_alerts,
            trigger_for(alerts_cron, "--alerts-cron"),
            args=[sender],
            id=ALERTS_JOB,
            name=f"alerts send [{alerts_cron}]",
            executor=ALERTS_EXECUTOR,
        )
    scheduler.add_job(
        reload_pipelines,
        trigger_for(RELOAD_CRON, "the reload of pipelines/"),
        args=[scheduler, jobs],
        kwargs={"trigger_for": trigger_for},
        id=RELOAD_JOB,
        name=f"reload pipelines/ [{RELOAD_CRON}]",
        executor=RELOAD_EXECUTOR,
        misfire_grace_time=None,  # late is fine: it only reads the folder
    )

    def on_event(event) -> None:
        if jobs.note_event(event):
            scheduler.add_job(
                jobs.record_pending,
                id=RECORD_JOB,
                name="record missed runs",
                replace_existing=True,
                misfire_grace_time=None,
            )

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    return scheduler


def describe_jobs(scheduler: BackgroundScheduler) -> list[tuple[str, str]]:
    """(job [crontab], next run UTC) for each job, soonest first, for the start-up message."""
    return [
        (job.name, f"{job.next_run_time:%Y-%m-%d %H:%M:%S}" if job.next_run_time else "-")
        for job in sorted(scheduler.get_jobs(), key=lambda j: (j.next_run_time is None, j.next_run_time, j.name))
    ]


def run_scheduler(
    settings: Settings,
    stop: threading.Event,
    *,
    trigger_for: Callable[[str, str], BaseTrigger] = crontab_trigger,
    inbox_cron: str = DEFAULT_INBOX_CRON,
    alerts_cron: str = DEFAULT_ALERTS_CRON,
    misfire_grace_s: int = MISFIRE_GRACE_S,
    on_start: Callable[[BackgroundScheduler], None] | None = None,
) -> None:
    """Run until `stop` is set (the CLI sets it on SIGTERM/SIGINT), then let the running job finish."""
    with hold_scheduler_lock(settings):
        specs = load_specs(settings.pipelines_dir)
        jobs = ScheduledJobs(settings, misfire_grace_s=misfire_grace_s)
        scheduler = build_scheduler(
            jobs,
            specs,
            now=dt.datetime.now(UTC),
            last_successes=read_last_successes(settings),
            trigger_for=trigger_for,
            inbox_cron=inbox_cron,
            alerts_cron=alerts_cron,
        )
        scheduler.start()
        try:
            if on_start:
                on_start(scheduler)
            while not stop.wait(1.0):
                pass
        finally:
            log.info("stopping: no new jobs start; waiting for the running job to finish")
            jobs.stopping.set()
            scheduler.shutdown(wait=True)
            jobs.record_pending()
            log.info("scheduler stopped")

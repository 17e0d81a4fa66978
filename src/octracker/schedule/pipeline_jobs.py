"""The scheduler's pipeline jobs: the job each spec asks for, and bringing the scheduler's table in line with them.

One way for both: the start-up table is built by `schedule_pipelines` from an empty scheduler, and the minutely
reload of `pipelines/` calls it again on the running one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from octracker.content.schedules import crontab_trigger, previous_fire_time
from octracker.content.specs import PipelineSpec

if TYPE_CHECKING:  # APScheduler comes with the scheduler's module, which imports this one
    from apscheduler.schedulers.base import BaseScheduler
    from apscheduler.triggers.base import BaseTrigger

    from octracker.schedule.scheduler import ScheduledJobs

log = logging.getLogger("octracker.schedule.scheduler")


def is_overdue(trigger: BaseTrigger, last_success: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a pipeline missed its cadence: no success since the trigger's previous fire time."""
    due = previous_fire_time(trigger, now)
    return due is not None and (last_success is None or last_success < due)


@dataclass(frozen=True)
class PipelineJob:
    """The job a pipeline's spec asks for: its crontab and the trigger made from it."""

    pipeline: str
    schedule: str
    path: Path
    trigger: BaseTrigger

    @property
    def label(self) -> str:
        """The job's name: the pipeline and its crontab, as the start-up table and the logs show it."""
        return f"{self.pipeline} [{self.schedule}]"


def pipeline_jobs(
    specs: list[PipelineSpec], trigger_for: Callable[[str, str], BaseTrigger] = crontab_trigger
) -> dict[str, PipelineJob]:
    """The job of each enabled pipeline with a schedule, by pipeline; a bad crontab raises naming its spec."""
    return {
        spec.name: PipelineJob(
            spec.name, spec.schedule, spec.path, trigger_for(spec.schedule, f"{spec.path}: schedule")
        )
        for spec in specs
        if spec.enabled and spec.schedule
    }


def schedule_pipelines(
    scheduler: BaseScheduler,
    jobs: ScheduledJobs,
    specs: list[PipelineSpec],
    *,
    now: dt.datetime,
    last_successes: Callable[[], Mapping[str, dt.datetime]],
    trigger_for: Callable[[str, str], BaseTrigger] = crontab_trigger,
) -> list[str]:
    """Bring the scheduler's pipeline jobs in line with the specs; what changed, one sentence per pipeline.

    A pipeline new to the table runs as on start: at once when overdue, else at its trigger; a changed crontab
    schedules the job anew the same way; a pipeline deleted, disabled or left without a schedule loses its job.
    Nothing changes when a crontab is bad or the last successes cannot be read (read only when a job is added).
    APScheduler's add and remove take its job store lock; only start-up and the one reload job call this.
    """
    wanted = pipeline_jobs(specs, trigger_for)
    held = {job.id: job for job in scheduler.get_jobs() if job.func == jobs.run_pipelines}
    to_add = [job for name, job in wanted.items() if name not in held or held[name].name != job.label]
    successes = last_successes() if to_add else {}
    changes = []
    by_name = {spec.name: spec for spec in specs}
    for name, old in held.items():
        if name in wanted:
            continue
        scheduler.remove_job(name)
        spec = by_name.get(name)
        if spec is None:
            why = f"no spec in {jobs.settings.pipelines_dir} names it any more"
        else:
            why = f"{spec.path} is disabled" if not spec.enabled else f"{spec.path} has no schedule"
        changes.append(f"{old.name}: no longer scheduled ({why})")
    for job in to_add:
        old = held.get(job.pipeline)
        if old is not None:
            scheduler.remove_job(job.pipeline)
        last_success = successes.get(job.pipeline)
        overdue = is_overdue(job.trigger, last_success, now)
        scheduler.add_job(
            jobs.run_pipelines,
            job.trigger,
            args=[[job.pipeline]],
            id=job.pipeline,
            name=job.label,
            **({"next_run_time": now} if overdue else {}),
        )
        if overdue:
            log.info("%s is overdue (last success %s); running it now", job.pipeline, last_success or "never")
        next_run = now if overdue else job.trigger.get_next_fire_time(None, now)
        when = f"next run {next_run:%Y-%m-%d %H:%M:%S} UTC" if next_run else "no next run"
        what = f"rescheduled from {old.name}" if old is not None else "scheduled"
        changes.append(f"{job.label}: {what} ({job.path}; {when})")
    return changes

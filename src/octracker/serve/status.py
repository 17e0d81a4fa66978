"""What an operator checks: each pipeline's last run and next run, quarantine, stale series, open alerts.

Read from the published copy (never the writer's file) and the pipeline specs; works before the first
refresh too, when every pipeline simply has not run yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, overload

import duckdb

from octracker.content.schedules import next_fire_time
from octracker.content.specs import INBOX_PIPELINE, REVIEW_PIPELINE, PipelineSpec, load_specs
from octracker.errors import OctrackerError
from octracker.store.lake import LakeTarget, published_time
from octracker.store.query import existing_relations, followed_places_condition, locked_reader
from octracker.store.settings import Settings

#: Newest quarantine reasons shown per pipeline.
NEWEST_REASONS = 3
#: Pipelines with no spec of their own: what runs them, instead of a next scheduled time.
IMPLICIT_PIPELINES = {
    INBOX_PIPELINE: "each refresh and the scheduler's inbox job",
    REVIEW_PIPELINE: "each review decision",
}
#: Results of a last run that need an operator (`missed`: the scheduler could not start it in time).
FAILED_RESULTS = ("failed", "interrupted", "missed")
#: A run that refused its input whole (recorded as failed with the input's rows quarantined), as `refresh` says
#: it: bad input to fix, not a broken pipeline, so it does not make `status` exit 1.
REFUSED = "refused"


@dataclass
class PipelineStatus:
    """One pipeline: its spec's schedule and the warehouse's record of its last run."""

    pipeline: str
    enabled: bool = True
    has_spec: bool = True
    #: For a pipeline without a spec of its own (the inbox, review decisions): what runs it.
    runs_with: str | None = None
    schedule: str | None = None
    next_run: dt.datetime | None = None
    schedule_error: str | None = None
    result: str = "never run"
    last_run_at: dt.datetime | None = None
    rows_new: int | None = None
    rows_revised: int | None = None
    rows_unchanged: int | None = None
    rows_retracted: int | None = None
    rows_quarantined: int | None = None
    rows_current: int = 0
    error: str | None = None


@dataclass
class QuarantineStatus:
    """Rows a pipeline had refused, and why (newest first, from its latest refusal)."""

    pipeline: str
    rows: int
    last_run_rows: int
    newest_at: dt.datetime
    newest_reasons: list[str]


@dataclass
class StaleSeries:
    """A series whose latest period is older than its indicator's frequency allows."""

    indicator_id: str
    geo: str
    frequency: str
    latest_period_end: dt.date
    stale_after: dt.date
    days_overdue: int


@dataclass
class SourceStatus:
    source_id: str
    kind: str
    title: str | None
    published_on: dt.date | None
    precedence: int
    observations: int
    #: day / month / year / unknown: how much of published_on the source states.
    published_precision: str = "unknown"


@dataclass
class StatusReport:
    """Everything `octracker status` prints, as data (JSON for monitoring jobs)."""

    checked_at: dt.datetime
    warehouse: str
    published_at: dt.datetime | None
    pipelines: list[PipelineStatus] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)
    quarantine: list[QuarantineStatus] = field(default_factory=list)
    stale_series: list[StaleSeries] = field(default_factory=list)
    #: None when the warehouse has no `trend_alerts` view (alerts not built there).
    open_alerts: int | None = None
    open_alerts_by_severity: dict[str, int] | None = None

    @property
    def failed_pipelines(self) -> list[str]:
        return [p.pipeline for p in self.pipelines if p.result in FAILED_RESULTS]

    @property
    def refused_pipelines(self) -> list[str]:
        return [p.pipeline for p in self.pipelines if p.result == REFUSED]

    @property
    def exit_code(self) -> int:
        """1 when a pipeline's last run failed, was interrupted or missed: a monitoring job needs no parsing."""
        return 1 if self.failed_pipelines else 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["failed_pipelines"] = self.failed_pipelines
        data["refused_pipelines"] = self.refused_pipelines
        data["quarantined_rows"] = sum(q.rows for q in self.quarantine)
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@overload
def utc_aware(value: dt.datetime) -> dt.datetime: ...
@overload
def utc_aware(value: None) -> None: ...
def utc_aware(value: dt.datetime | None) -> dt.datetime | None:
    """Warehouse timestamps are naive UTC; make them say so."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def next_run(schedule: str | None, now: dt.datetime, where: str = "schedule") -> dt.datetime | None:
    """When the scheduler fires this crontab line next (UTC, as `octracker schedule` reads it); None without one."""
    if not schedule:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return next_fire_time(schedule, now, where)


def schedule_status(spec: PipelineSpec, now: dt.datetime) -> PipelineStatus:
    """A pipeline as its spec declares it; a bad schedule is reported here rather than failing the status."""
    status = PipelineStatus(spec.name, enabled=spec.enabled, schedule=spec.schedule)
    if spec.enabled:
        try:
            status.next_run = next_run(spec.schedule, now, where=f"{spec.path}: schedule")
        except OctrackerError as exc:
            status.schedule_error = str(exc)
    return status


def read_last_runs(con: duckdb.DuckDBPyConnection, pipelines: dict[str, PipelineStatus]) -> None:
    """Fill in each pipeline's last run; pipelines with runs but no spec any more are listed too."""
    rows = con.execute(
        "SELECT pipeline, status, COALESCE(finished_at, started_at), rows_new, rows_revised, rows_unchanged, "
        "rows_retracted, rows_quarantined, error FROM runs "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY pipeline ORDER BY started_at DESC, run_id DESC) = 1"
    ).fetchall()
    for name, result, at, new, revised, unchanged, retracted, quarantined, error in rows:
        status = pipelines.setdefault(
            name, PipelineStatus(name, enabled=False, has_spec=False, runs_with=IMPLICIT_PIPELINES.get(name))
        )
        refused = result == "failed" and (quarantined or 0) > 0
        status.result, status.last_run_at, status.error = REFUSED if refused else result, utc_aware(at), error
        status.rows_new, status.rows_revised, status.rows_unchanged = new, revised, unchanged
        status.rows_retracted, status.rows_quarantined = retracted, quarantined
    for name, count in con.execute(
        "SELECT pipeline, COUNT(*) FROM observation_history WHERE valid_to IS NULL GROUP BY pipeline"
    ).fetchall():
        pipelines.setdefault(
            name, PipelineStatus(name, enabled=False, has_spec=False, runs_with=IMPLICIT_PIPELINES.get(name))
        ).rows_current = count


def read_quarantine(con: duckdb.DuckDBPyConnection) -> list[QuarantineStatus]:
    """Per pipeline: all refused rows, those of its latest refusal, and that refusal's first reasons."""
    totals = con.execute(
        "SELECT pipeline, COUNT(*), MAX(quarantined_at), arg_max(run_id, quarantined_at) FROM quarantine "
        "GROUP BY pipeline ORDER BY MAX(quarantined_at) DESC, pipeline"
    ).fetchall()
    result = []
    for pipeline, rows, newest_at, run_id in totals:
        reasons = con.execute(
            "SELECT reason FROM quarantine WHERE run_id = ? ORDER BY line_no NULLS LAST, reason", [run_id]
        ).fetchall()
        result.append(
            QuarantineStatus(
                pipeline, rows, len(reasons), utc_aware(newest_at), [r[0] for r in reasons[:NEWEST_REASONS]]
            )
        )
    return result


def read_stale_series(
    con: duckdb.DuckDBPyConnection, today: dt.date, relations: set[str] | None = None
) -> list[StaleSeries]:
    """Series past their cadence in the places alerts follow: the other countries of a whole-world table (the
    index workbook's 2023 edition is the latest for most of them) are not the operator's to chase."""
    followed = followed_places_condition(relations or set())
    rows = con.execute(
        "SELECT indicator_id, geo, frequency, latest_period_end, stale_after FROM series_freshness "
        f"WHERE stale_after < ? AND {followed} ORDER BY stale_after, indicator_id, geo",
        [today],
    ).fetchall()
    return [StaleSeries(i, g, f, end, after, (today - after).days) for i, g, f, end, after in rows]


def read_sources(con: duckdb.DuckDBPyConnection) -> list[SourceStatus]:
    rows = con.execute(
        "SELECT s.source_id, s.kind, s.title, s.published_on, s.precedence, COUNT(o.source_id), "
        "s.published_precision "
        "FROM sources AS s LEFT JOIN observations AS o USING (source_id) GROUP BY ALL ORDER BY s.source_id"
    ).fetchall()
    return [SourceStatus(*row) for row in rows]


def read_open_alerts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Open alerts per severity, most severe first when the view ranks severities (`severity_rank`).

    The view is asked once (binding it costs as much as a small query): a warehouse refreshed before the view
    ranked severities refuses the column, and is then asked again in the order of the names.
    """
    try:
        rows = con.execute(
            "SELECT severity, COUNT(*) FROM trend_alerts GROUP BY severity ORDER BY MAX(severity_rank) DESC"
        ).fetchall()
    except duckdb.BinderException:
        rows = con.execute("SELECT severity, COUNT(*) FROM trend_alerts GROUP BY severity ORDER BY severity").fetchall()
    return dict(rows)


def collect_status(settings: Settings, now: dt.datetime | None = None) -> StatusReport:
    """Gather the status from the specs and the published copy (which may not exist yet)."""
    now = now or dt.datetime.now(dt.UTC)
    published = settings.read_target
    where = settings.lake.describe() if settings.lake is not None else str(settings.warehouse)
    report = StatusReport(checked_at=now, warehouse=where, published_at=None)
    pipelines = {spec.name: schedule_status(spec, now) for spec in load_specs(settings.pipelines_dir)}
    if isinstance(published, LakeTarget) or published.exists():
        with locked_reader(published) as con:
            report.published_at = published_time(con, published)
            relations = existing_relations(con)
            read_last_runs(con, pipelines)
            report.sources = read_sources(con)
            report.quarantine = read_quarantine(con)
            if "series_freshness" in relations:
                report.stale_series = read_stale_series(con, now.date(), relations)
            if "trend_alerts" in relations:
                report.open_alerts_by_severity = read_open_alerts(con)
                report.open_alerts = sum(report.open_alerts_by_severity.values())
    report.pipelines = sorted(pipelines.values(), key=lambda p: (not p.has_spec, p.pipeline))
    return report

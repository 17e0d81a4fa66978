"""Prometheus text exposition of what an operator watches: runs, rows, quarantine, open alerts, data age.

`collect_metrics` reads a `MetricsSnapshot` (plain figures) from the published warehouse; `render_metrics`
turns it into the text Prometheus scrapes, through prometheus_client's own writer, so names, escaping and
HELP/TYPE lines follow the format exactly. Every metric is a gauge: each scrape reports the warehouse as it
is, nothing is counted in this process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from octracker.serve.status import collect_status
from octracker.store.query import existing_relations, locked_reader
from octracker.store.settings import Settings

#: The statuses a run can end in (the `runs` table), `missed` (the scheduler could not start it in time) and
#: `unreachable` (a live source could not be reached; its last data kept). Any other is reported as it is.
RUN_STATUSES = ("success", "failed", "interrupted", "running", "missed", "unreachable")
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class PipelineFigures:
    """One pipeline as the `runs`, `quarantine` and `observations` tables know it."""

    pipeline: str
    last_run_at: dt.datetime | None = None  # when its latest run finished (or started, while running)
    last_status: str | None = None
    last_success_at: dt.datetime | None = None
    rows: int = 0  # current values it loaded
    rows_quarantined: int = 0  # rows and files it refused, all runs


@dataclass(frozen=True)
class SourceFigures:
    """One source: the newest data it holds (end of its latest period, or the as-of date of a year to date)."""

    source_id: str
    newest_data: dt.date | None


@dataclass(frozen=True)
class AlertCount:
    severity: str
    rule: str
    open: int = 0
    muted: int = 0


@dataclass
class MetricsSnapshot:
    """Everything one scrape reports, as read from the published warehouse at `collected_at` (UTC)."""

    collected_at: dt.datetime
    pipelines: list[PipelineFigures] = field(default_factory=list)
    sources: list[SourceFigures] = field(default_factory=list)
    alerts: list[AlertCount] = field(default_factory=list)
    scheduler_up: bool = False
    published_at: dt.datetime | None = None
    #: False when the warehouse could not be read for this scrape (the other figures are then empty).
    readable: bool = True


def unix_seconds(moment: dt.datetime) -> float:
    """Seconds since the epoch; the warehouse stores naive UTC timestamps."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def data_age_seconds(newest: dt.date, now: dt.datetime) -> float:
    """Seconds from the end of the day `newest` (the last day the data covers) to `now`; never negative."""
    covered_until = dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max(0.0, unix_seconds(now) - covered_until.timestamp())


def metric_families(snapshot: MetricsSnapshot) -> list[Metric]:
    """The metric families of one snapshot, in the order they are printed."""
    last_run = GaugeMetricFamily(
        "octracker_pipeline_last_run_timestamp_seconds",
        "When the pipeline's latest run finished (started, while it runs), in seconds since the epoch.",
        labels=["pipeline"],
    )
    last_success = GaugeMetricFamily(
        "octracker_pipeline_last_success_timestamp_seconds",
        "When the pipeline last finished a run successfully, in seconds since the epoch.",
        labels=["pipeline"],
    )
    status = GaugeMetricFamily(
        "octracker_pipeline_last_run_status",
        "1 for the status of the pipeline's latest run (success, failed, interrupted, running, missed, "
        "unreachable), 0 for the others.",
        labels=["pipeline", "status"],
    )
    rows = GaugeMetricFamily(
        "octracker_pipeline_rows", "Current values (observations) the pipeline has loaded.", labels=["pipeline"]
    )
    quarantined = GaugeMetricFamily(
        "octracker_pipeline_quarantined_rows",
        "Rows and files the pipeline refused, kept in quarantine.",
        labels=["pipeline"],
    )
    for p in snapshot.pipelines:
        if p.last_run_at is not None:
            last_run.add_metric([p.pipeline], unix_seconds(p.last_run_at))
        if p.last_success_at is not None:
            last_success.add_metric([p.pipeline], unix_seconds(p.last_success_at))
        if p.last_status is not None:
            statuses = RUN_STATUSES if p.last_status in RUN_STATUSES else (*RUN_STATUSES, p.last_status)
            for name in statuses:
                status.add_metric([p.pipeline, name], 1.0 if name == p.last_status else 0.0)
        rows.add_metric([p.pipeline], p.rows)
        quarantined.add_metric([p.pipeline], p.rows_quarantined)

    open_alerts = GaugeMetricFamily(
        "octracker_alerts_open",
        "Open trend alerts (muted ones not counted), by severity and rule.",
        labels=["severity", "rule"],
    )
    muted_alerts = GaugeMetricFamily(
        "octracker_alerts_muted",
        "Trend alerts silenced with `octracker alerts mute`, by severity and rule.",
        labels=["severity", "rule"],
    )
    open_by_severity = GaugeMetricFamily(
        "octracker_alerts_open_by_severity",
        "Open trend alerts (muted ones not counted), by severity.",
        labels=["severity"],
    )
    totals = dict.fromkeys(SEVERITIES, 0)
    for a in snapshot.alerts:
        open_alerts.add_metric([a.severity, a.rule], a.open)
        if a.muted:
            muted_alerts.add_metric([a.severity, a.rule], a.muted)
        totals[a.severity] = totals.get(a.severity, 0) + a.open
    for severity, count in totals.items():
        open_by_severity.add_metric([severity], count)

    age = GaugeMetricFamily(
        "octracker_source_data_age_seconds",
        "Seconds since the end of the newest period a source has data for (as of the date, for a year to date).",
        labels=["source_id"],
    )
    for s in snapshot.sources:
        if s.newest_data is not None:
            age.add_metric([s.source_id], data_age_seconds(s.newest_data, snapshot.collected_at))

    scheduler = GaugeMetricFamily(
        "octracker_scheduler_up",
        "1 while `octracker schedule` runs on this warehouse, else 0.",
        value=1.0 if snapshot.scheduler_up else 0.0,
    )
    readable = GaugeMetricFamily(
        "octracker_warehouse_readable",
        "1 when this scrape could read the published warehouse, else 0 (see the log).",
        value=1.0 if snapshot.readable else 0.0,
    )
    families: list[Metric] = [
        last_run,
        last_success,
        status,
        rows,
        quarantined,
        open_alerts,
        muted_alerts,
        open_by_severity,
        age,
        scheduler,
        readable,
    ]
    if snapshot.published_at is not None:
        families.append(
            GaugeMetricFamily(
                "octracker_warehouse_published_timestamp_seconds",
                "When the warehouse copy that readers (and these metrics) see was last published, in seconds since "
                "the epoch.",
                value=unix_seconds(snapshot.published_at),
            )
        )
    return families


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from metric_families(self.snapshot)


def render_metrics(snapshot: MetricsSnapshot) -> str:
    """The Prometheus text exposition (format 0.0.4) of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry).decode("utf-8")


def collect_metrics(settings: Settings, *, scheduler_up: bool, now: dt.datetime | None = None) -> MetricsSnapshot:
    """Read a snapshot from the pipeline specs and the published warehouse (empty figures before the first refresh)."""
    now = now or dt.datetime.now(dt.UTC)
    status = collect_status(settings, now)
    snapshot = MetricsSnapshot(collected_at=now, scheduler_up=scheduler_up, published_at=status.published_at)
    if status.published_at is None:
        snapshot.pipelines = [PipelineFigures(p.pipeline) for p in status.pipelines]
        return snapshot
    quarantined = {q.pipeline: q.rows for q in status.quarantine}
    with locked_reader(settings.read_target) as con:
        successes = dict(
            con.execute(
                "SELECT pipeline, MAX(COALESCE(finished_at, started_at)) FROM runs WHERE status = 'success' "
                "GROUP BY pipeline"
            ).fetchall()
        )
        snapshot.sources = read_source_figures(con)
        snapshot.alerts = read_alert_counts(con, existing_relations(con))
    names = [p.pipeline for p in status.pipelines] + sorted(set(quarantined) - {p.pipeline for p in status.pipelines})
    by_name = {p.pipeline: p for p in status.pipelines}
    for name in names:
        p = by_name.get(name)
        figures = PipelineFigures(name, last_success_at=successes.get(name), rows_quarantined=quarantined.get(name, 0))
        if p is not None:
            ran = p.last_run_at is not None
            figures = dataclasses.replace(
                figures,
                last_run_at=p.last_run_at,
                last_status=p.result if ran else None,
                rows=p.rows_current,
            )
        snapshot.pipelines.append(figures)
    return snapshot


def read_source_figures(con: duckdb.DuckDBPyConnection) -> list[SourceFigures]:
    """Each source with the last day its current values cover (the as-of date of a year to date)."""
    rows = con.execute(
        "SELECT s.source_id, MAX(LEAST(o.period_end, COALESCE(o.as_of, o.period_end))) "
        "FROM sources AS s LEFT JOIN observations AS o USING (source_id) GROUP BY s.source_id ORDER BY 1"
    ).fetchall()
    return [SourceFigures(source_id, newest) for source_id, newest in rows]


def read_alert_counts(con: duckdb.DuckDBPyConnection, relations: set[str]) -> list[AlertCount]:
    """Open and muted alerts per (severity, rule); none when the warehouse has no alert views."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for view, kind in (("trend_alerts", "open"), ("muted_alerts", "muted")):
        if view not in relations:
            continue
        for severity, rule, n in con.execute(f"SELECT severity, rule, COUNT(*) FROM {view} GROUP BY ALL").fetchall():
            counts.setdefault((severity, rule), {})[kind] = n
    return [AlertCount(severity, rule, **c) for (severity, rule), c in sorted(counts.items())]

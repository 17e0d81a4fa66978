"""The scheduler's `/metrics` endpoint: Prometheus text exposition on 127.0.0.1, read afresh at every scrape."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

import duckdb
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from octracker.errors import OctrackerError, UsageError
from octracker.serve.metrics import MetricsSnapshot, collect_metrics, metric_families
from octracker.store.settings import Settings

log = logging.getLogger("octracker.metrics")
#: Only this machine: the figures name pipelines and sources, and the endpoint has no authentication.
LISTEN_ADDRESS = "127.0.0.1"


class WarehouseCollector(Collector):
    """Reads the published warehouse at each scrape; a failed read is a gauge at 0, not a failed scrape."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        try:
            snapshot = collect_metrics(self.settings, scheduler_up=True)
        except (OctrackerError, duckdb.Error, OSError) as exc:
            log.error("metrics: cannot read the warehouse: %s", exc)
            snapshot = MetricsSnapshot(collected_at=dt.datetime.now(dt.UTC), scheduler_up=True, readable=False)
        yield from metric_families(snapshot)


def serve_metrics(settings: Settings, port: int) -> WSGIServer:
    """Serve the metrics at http://127.0.0.1:PORT/metrics in a daemon thread; `shutdown()` stops it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WarehouseCollector(settings))
    try:
        server, _thread = start_http_server(port, addr=LISTEN_ADDRESS, registry=registry)
    except OSError as exc:
        raise UsageError(
            f"--metrics-port {port}: cannot listen on {LISTEN_ADDRESS}:{port} ({exc.strerror}); choose a free port"
        ) from None
    return server

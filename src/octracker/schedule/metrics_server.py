"""The scheduler's `/metrics` endpoint: Prometheus text exposition on 127.0.0.1, read afresh at every scrape."""

from __future__ import annotations

import datetime as dt
import logging
import socketserver
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import duckdb
from prometheus_client import CollectorRegistry, make_wsgi_app
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


class _MetricsServer(socketserver.ThreadingMixIn, WSGIServer):
    """A thread per scrape, joined by `server_close()`.

    A scrape reads the warehouse through DuckDB; a daemon thread still inside it when the process ends (an error at
    start, a stop during a scrape) makes DuckDB abort the process instead of it exiting with its status.
    """

    daemon_threads = False
    block_on_close = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the name of the overridden method's
        """Scrapes are not logged."""


def serve_metrics(settings: Settings, port: int) -> WSGIServer:
    """Serve the metrics at http://127.0.0.1:PORT/metrics from a thread; `shutdown()` then `server_close()` stop it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WarehouseCollector(settings))
    try:
        server = make_server(
            LISTEN_ADDRESS, port, make_wsgi_app(registry), server_class=_MetricsServer, handler_class=_QuietHandler
        )
    except OSError as exc:
        raise UsageError(
            f"--metrics-port {port}: cannot listen on {LISTEN_ADDRESS}:{port} ({exc.strerror}); choose a free port"
        ) from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

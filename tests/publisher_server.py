"""A publisher on 127.0.0.1 for feed tests: each path (with its query) answers a recorded body, with or without
gzip, an ETag (answering 304 to If-None-Match) or an error status; every request is recorded. Also the pipeline
spec of a feed pointed at it, and a refresh through the command line."""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from conftest import run_cli


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    etag: str | None = None
    gzip: bool = False


@dataclass
class Publisher:
    """A loopback server answering each path (with its query) from a table of routes; it records every request."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = unquote(self.path)
                publisher.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                route = publisher.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                body = gzip.compress(route.body) if route.gzip else route.body
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                if route.gzip:
                    self.send_header("Content-Encoding", "gzip")
                if route.etag:
                    self.send_header("ETag", route.etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def publisher():
    server = Publisher()
    yield server
    server.close()


def write_spec(settings, name: str, extractor: str, url: str, snapshot: str | None = None) -> None:
    lines = [
        f'extractor = "{extractor}"',
        "[feed]",
        f'url = "{url}"',
        f'format = "{extractor}"',
        'allow_http_hosts = ["127.0.0.1"]',
        "max_attempts = 1",
        "timeout_s = 5",
    ]
    if snapshot:
        lines.append(f'snapshot = "{snapshot}"')
    (settings.pipelines_dir / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def refresh(settings, name: str, *flags: str):
    done = run_cli(settings, "refresh", name, "--json", *flags)
    return done, json.loads(done.stdout[done.stdout.index("[") :]) if "[" in done.stdout else []

"""A real HTTP webhook receiver on 127.0.0.1 that records requests and plays scripted replies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted answer: wait `delay_s`, then send `raw` bytes verbatim, or a normal response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0
    raw: bytes | None = None
    reason: str | None = None
    # Sleep after `raw` before closing, to imitate a receiver that stalls mid-body.
    hang_s: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """One request as the receiver saw it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Serves the script in order; once it runs out every request gets a 500 so extra calls show up."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        # A fixed port lets a test bring a receiver up where a refused one was ("receiver down, then back").
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def play(self, *replies: Reply) -> None:
        with self._lock:
            self._script = list(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.pop(0)
        return Reply(500, body=b"receiver script exhausted")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._next(Recorded("POST", self.path, headers, body))
                time.sleep(reply.delay_s)
                try:
                    self._send(reply)
                except OSError:
                    # The sender gave up (timeout) and closed the socket; that is the scenario, not a bug.
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    self.wfile.flush()
                    time.sleep(reply.hang_s)
                    self.close_connection = True
                    return
                self.send_response(reply.status, reply.reason)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A started receiver, stopped after the test."""
    server = WebhookReceiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def refused_port() -> int:
    """A loopback port nothing listens on: bound to get a free number, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

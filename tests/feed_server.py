"""A scripted HTTP/1.1 server on 127.0.0.1 for tests: replays replies in order, records every request."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer.

    `body` may be a callable returning chunks, so a test can stream far more than it keeps in memory.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Callable[[], Iterable[bytes]] = b""
    chunked: bool = False
    content_length: int | None = None  # overrides the header; default: len(body) unless chunked
    delay_s: float = 0.0  # before the status line, to provoke client timeouts
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    """One request the server received, and how far its reply got."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body_bytes_sent: int = 0
    completed: bool = False  # the whole scripted body went out


class FeedServer:
    """Context manager: `with FeedServer() as server: server.script(Reply(...)); get(server.url())`."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._replies: deque[Reply] = deque()
        self._finished = 0
        self._changed = threading.Condition()
        self._httpd = ThreadingHTTPServer((self.host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/feed.csv") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one (an exhausted script answers 599)."""
        with self._changed:
            self._replies.extend(replies)

    def wait_finished(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` replies have been fully written or abandoned by the client."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._finished >= count, timeout):
                raise TimeoutError(f"only {self._finished} of {count} replies finished")

    def _take(self, seen: Seen) -> Reply:
        with self._changed:
            self.requests.append(seen)
            if self._replies:
                return self._replies.popleft()
        return Reply(599, {"Content-Type": "text/plain"}, b"no scripted reply left")

    def _done(self) -> None:
        with self._changed:
            self._finished += 1
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and chunked, like real feed servers

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client dropping an idle keep-alive connection is normal, not a test failure

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                seen = Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
                reply = server._take(seen)
                try:
                    self._answer(reply, seen)
                except (BrokenPipeError, ConnectionResetError):
                    # The client hung up mid-body: exactly what size limits and timeouts should cause.
                    self.close_connection = True
                finally:
                    server._done()

            def _answer(self, reply: Reply, seen: Seen) -> None:
                time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    return
                chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    length = reply.content_length
                    if length is None:
                        assert isinstance(reply.body, bytes), "streamed bodies need content_length or chunked"
                        length = len(reply.body)
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                for chunk in chunks:
                    if not chunk:
                        continue
                    if reply.chunked:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        self.wfile.write(chunk)
                    seen.body_bytes_sent += len(chunk)
                if reply.chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                seen.completed = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output clean

        return Handler

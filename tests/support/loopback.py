"""Small HTTP servers on 127.0.0.1 for the tiers' stand-ins (upstream APIs, a recording Sentry): one thread each.

class Upstream(LoopbackServer):
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            self.answer(200, b'{"id": "1"}')

with Upstream() as upstream:
    ...upstream.url...
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from .harness import LOOPBACK


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and keeps the test output free of access logs."""

    protocol_version = "HTTP/1.1"  # an SDK or client keeps its connection alive

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is no place for an access log."""


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on a free 127.0.0.1 port, serving from a daemon thread inside its `with` block."""

    daemon_threads = True
    Handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), self.Handler)
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

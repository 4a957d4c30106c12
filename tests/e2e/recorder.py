"""A stand-in Sentry that only records: every envelope an SDK sends to it on 127.0.0.1, parsed, in memory.

For tests whose question is "was anything sent?" rather than "what did Sentry make of it?" (bugsink answers the
latter). It answers 200 to `POST /api/<project>/envelope/`, as Sentry does, so the SDK's transport works as usual.
Standard library only.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .envelopes import Envelope, dsn_for_port, parse_envelope


class EventRecorder:
    """Use as a context manager; `dsn` points an SDK here, `events()` is what arrived so far."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
        self._server.daemon_threads = True
        self._server.recorder = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="event-recorder", daemon=True)
        self._arrived = threading.Condition()
        self._envelopes: list[Envelope] = []
        self.dsn = dsn_for_port(int(self._server.server_address[1]))

    def record(self, envelope: Envelope) -> None:
        with self._arrived:
            self._envelopes.append(envelope)
            self._arrived.notify_all()

    def events(self) -> list[dict[str, Any]]:
        """Error and message events (items of type "event"), in the order they arrived."""
        with self._arrived:
            envelopes = list(self._envelopes)
        return [item.json() for envelope in envelopes for item in envelope.items if item.type == "event"]

    def wait_for_event(self, event_id: str, timeout: float) -> list[dict[str, Any]]:
        """Block until the event `event_id` arrived (AssertionError after `timeout` s); return every event so far."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not any(event.get("event_id") == event_id for event in self.events()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"event {event_id} did not arrive within {timeout} s")
                self._arrived.wait(remaining)
        return self.events()

    def __enter__(self) -> EventRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the SDK keeps its connection alive

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/envelope"):
            self._answer(404, b"{}")
            return
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding:
            raise AssertionError(f"the recorder cannot read {encoding!r} envelopes")
        self.server.recorder.record(parse_envelope(body))  # type: ignore[attr-defined]
        self._answer(200, b'{"id":"0"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is no place for an access log."""

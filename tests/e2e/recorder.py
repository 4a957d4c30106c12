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
from typing import Any

from ..support.loopback import JsonHandler, LoopbackServer
from .envelopes import Envelope, dsn_for_port, parse_envelope


class _RecordingHandler(JsonHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/envelope"):
            self.answer(404, b"{}")
            return
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding:
            raise AssertionError(f"the recorder cannot read {encoding!r} envelopes")
        self.server.record(parse_envelope(body))  # type: ignore[attr-defined]
        self.answer(200, b'{"id":"0"}')


class EventRecorder(LoopbackServer):
    """Use as a context manager; `dsn` points an SDK here, `events()` is what arrived so far."""

    Handler = _RecordingHandler

    def __init__(self) -> None:
        super().__init__()
        self._arrived = threading.Condition()
        self._envelopes: list[Envelope] = []
        self.dsn = dsn_for_port(self.port)

    def record(self, envelope: Envelope) -> None:
        with self._arrived:
            self._envelopes.append(envelope)
            self._arrived.notify_all()

    def events(self) -> list[dict[str, Any]]:
        """Error and message events (items of type "event"), in the order they arrived."""
        return self.items("event")

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The items of type `kind` ("event", "transaction", "check_in"), in the order they arrived."""
        with self._arrived:
            envelopes = list(self._envelopes)
        return [item.json() for envelope in envelopes for item in envelope.items if item.type == kind]

    def wait_for_items(self, kind: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until `count` items of type `kind` arrived (AssertionError after `timeout` s); return them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.items(kind)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.items(kind))} of {count} {kind} items arrived in {timeout} s")
                self._arrived.wait(remaining)
        return self.items(kind)

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

"""A stand-in for Sentry: accepts envelopes on 127.0.0.1, counts them, throws them away.

Run as ``python -m bench.sink PORT`` from the template's folder. It answers 200 to ``POST /api/<id>/envelope/`` (so
the SDK's transport does its real work: serialize, compress, send over HTTP keep-alive) and ``GET /stats`` with what
it saw: envelopes, bytes, item types, and whether the last error event carried a stack trace.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import zlib
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.harness import LOOPBACK
from tests.support.loopback import JsonHandler

_LOCK = threading.Lock()
STATS: dict[str, Any] = {"envelopes": 0, "bytes": 0, "items": {}, "last_event": None}


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def summarize_event(payload: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the benchmark needs to trust that a sampled-down event is still useful."""
    values = (payload.get("exception") or {}).get("values") or []
    frames = [frame for value in values for frame in ((value.get("stacktrace") or {}).get("frames") or [])]
    return {
        "exception_types": [value.get("type") for value in values],
        "frames": len(frames),
        "in_app_frames": sum(1 for frame in frames if frame.get("in_app")),
        "has_request": "request" in payload,
        "request_id_tag": (payload.get("tags") or {}).get("request_id"),
        "transaction": payload.get("transaction"),
    }


def record(body: bytes) -> None:
    lines = body.split(b"\n")
    types: list[str] = []
    last_event = None
    # Envelope: a header line, then (item header line, payload line) pairs. Payload lengths may be given, but the
    # SDK writes one JSON payload per line, which is all this sink needs.
    index = 1
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        header = json.loads(lines[index])
        item_type = header.get("type", "?")
        types.append(item_type)
        payload_line = lines[index + 1] if index + 1 < len(lines) else b""
        if item_type == "event":
            last_event = summarize_event(json.loads(payload_line))
        index += 2
    with _LOCK:
        STATS["envelopes"] += 1
        STATS["bytes"] += len(body)
        for item_type in types:
            STATS["items"][item_type] = STATS["items"].get(item_type, 0) + 1
        if last_event is not None:
            STATS["last_event"] = last_event


class Handler(JsonHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/api/") and self.path.rstrip("/").endswith("envelope"):
            try:
                record(_decode(body, self.headers.get("Content-Encoding", "")))
            except Exception:  # a sink that cannot read an envelope still answers like Sentry would
                with _LOCK:
                    STATS["unreadable"] = STATS.get("unreadable", 0) + 1
            self.answer(200, b'{"id":"0"}')
        else:
            self.answer(404, b"{}")

    def do_GET(self) -> None:
        if self.path == "/stats":
            with _LOCK:
                text = json.dumps(STATS).encode()
            self.answer(200, text)
        else:
            self.answer(404, b"{}")


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
    server.daemon_threads = True
    print(f"sink listening on {LOOPBACK}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Errors off the request path under a real uvicorn reporting to bugsink: a background task, a stream, a WebSocket.

Each is exactly one stored event tied to its unit (request id, route, the trace id of its log lines); the stream's
client sees its connection cut before the end, the WebSocket's client close code 1011.
"""

from __future__ import annotations

import http.client
import subprocess
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest

from .bugsink import Bugsink
from .service import E2E_APP, BakedService, RunningService, ServiceClient
from .test_service_e2e import EVENT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, new_project

# A WebSocket client run with the service's own virtualenv (uvicorn[standard] brings the websockets package).
_WEBSOCKET_CLIENT = """
import sys
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
with connect(sys.argv[1], additional_headers={"X-Request-ID": sys.argv[2]}, open_timeout=10) as socket:
    socket.send("boom")
    try:
        socket.recv(timeout=10)
    except ConnectionClosed as closed:
        print(closed.rcvd.code if closed.rcvd else "no close frame")
"""


@dataclass
class OffPath:
    service: RunningService
    background_status: int
    stream_error: str
    websocket_close: str
    events: list[dict[str, Any]]

    def event_of(self, request_id: str) -> dict[str, Any]:
        found = [event for event in self.events if event.get("tags", {}).get("request_id") == request_id]
        assert len(found) == 1, f"{len(found)} stored events carry request_id {request_id}"
        return found[0]

    def lines_of(self, request_id: str) -> list[dict[str, Any]]:
        return [record for record in self.service.log_records() if record.get("request_id") == request_id]


def read_stream(url: str) -> str:
    """GET the failing stream; return how reading its body ended."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/e2e/stream-failure", headers={"X-Request-ID": "e2e-stream"})
        answer = connection.getresponse()
        try:
            answer.read()
        except http.client.IncompleteRead:
            return "incomplete"
        return "complete"
    finally:
        connection.close()


@pytest.fixture(scope="module")
def off_path(
    bugsink: Bugsink, baked_service: BakedService, sqlite_database: str, tmp_path_factory: pytest.TempPathFactory
) -> OffPath:
    dsn = new_project(bugsink, "off-path")
    with baked_service.run(
        tmp_path_factory.mktemp("off-path"), app=E2E_APP, SENTRY_DSN=dsn, DATABASE_URL=sqlite_database
    ) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            background = client.post("/e2e/background-failure", headers={"X-Request-ID": "e2e-background"})
        stream_error = read_stream(service.url)
        websocket_url = service.url.replace("http://", "ws://") + "/e2e/ws/failure"
        close = subprocess.run(
            [str(baked_service.python), "-c", _WEBSOCKET_CLIENT, websocket_url, "e2e-websocket"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        service.stop()
    events = bugsink.wait_for_events(dsn, 3, timeout=EVENT_TIMEOUT_SECONDS)
    return OffPath(service, background.status_code, stream_error, close.stdout.strip(), events)


def test_each_off_path_error_is_stored_exactly_once(off_path: OffPath) -> None:
    assert len(off_path.events) == 3
    for request_id in ("e2e-background", "e2e-stream", "e2e-websocket"):
        off_path.event_of(request_id)


def test_a_background_task_error_is_tied_to_its_request(off_path: OffPath) -> None:
    event = off_path.event_of("e2e-background")
    assert off_path.background_status == 202
    assert event["transaction"] == "/e2e/background-failure"
    trace_ids = {line["trace_id"] for line in off_path.lines_of("e2e-background")}
    assert trace_ids == {event["contexts"]["trace"]["trace_id"]}


def test_a_stream_that_fails_is_cut_for_its_client_and_tied_to_its_request(off_path: OffPath) -> None:
    assert off_path.stream_error == "incomplete"
    assert off_path.event_of("e2e-stream")["transaction"] == "/e2e/stream-failure"


def test_a_websocket_error_closes_with_1011_and_is_tied_to_its_connection(off_path: OffPath) -> None:
    event = off_path.event_of("e2e-websocket")
    assert off_path.websocket_close == "1011"
    assert event["transaction"] == "/e2e/ws/failure"
    trace_ids = {line["trace_id"] for line in off_path.lines_of("e2e-websocket")}
    assert trace_ids == {event["contexts"]["trace"]["trace_id"]}


def test_no_event_carries_another_units_request_id(off_path: OffPath) -> None:
    ids = {"e2e-background", "e2e-stream", "e2e-websocket"}
    for event in off_path.events:
        others = ids - {event["tags"]["request_id"]}
        assert [other for other in others if other in repr(event)] == []

"""A WebSocket connection is a unit of work: its own request id and scope, one event per error, close code 1011."""

from __future__ import annotations

import io

import httpx
import pytest
import structlog
from fastapi import FastAPI, WebSocket

from tests.conftest import Events
from tests.support.units import breadcrumb_messages, event_text, lines_of, log_lines, trace_id
from tests.support.websocket import close_code, converse

log = structlog.get_logger(__name__)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            log.info("message received", room=room)
            if text == "boom":
                raise RuntimeError(f"room {room} broke")
            await websocket.send_text(text)

    return app


async def test_an_error_after_accept_is_one_event_with_the_route_and_the_connections_request_id(
    app: FastAPI, client: httpx.AsyncClient, events: Events
) -> None:
    await converse(app, "/rooms/7", ["hello", "boom"], request_id="ws-1")

    (event,) = events()
    assert event["tags"]["request_id"] == "ws-1"
    assert event["transaction"] == "/rooms/{room}"
    assert event["request"]["url"] == "ws://testserver/rooms/7"
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False


async def test_an_error_after_accept_closes_the_connection_with_1011(app: FastAPI, client: httpx.AsyncClient) -> None:
    sent = await converse(app, "/rooms/7", ["boom"])

    assert close_code(sent) == 1011


async def test_the_connections_log_lines_carry_its_request_id_and_the_events_trace_id(
    app: FastAPI, client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    await converse(app, "/rooms/7", ["hello", "boom"], request_id="ws-1")

    (event,) = events()
    lines = lines_of(log_stream, "ws-1")
    assert [line["event"] for line in lines] == [
        "message received",
        "message received",
        "unexpected error in a WebSocket connection",
    ]
    assert {line["trace_id"] for line in lines} == {trace_id(event)}


async def test_a_connection_without_x_request_id_gets_a_new_one(
    app: FastAPI, client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    await converse(app, "/rooms/7", ["boom"])
    await converse(app, "/rooms/8", ["boom"])

    ids = [event["tags"]["request_id"] for event in events()]
    assert len(set(ids)) == 2
    assert {line["request_id"] for line in log_lines(log_stream) if line["event"] == "message received"} == set(ids)


async def test_a_client_that_disconnects_is_no_error(
    app: FastAPI, client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    sent = await converse(app, "/rooms/7", ["hello"])

    assert sent[-1] == {"type": "websocket.send", "text": "hello"}
    assert events() == []
    assert [line for line in log_lines(log_stream) if line["level"] == "error"] == []


async def test_no_breadcrumb_of_another_connection_rides_in_a_connections_event(
    app: FastAPI, client: httpx.AsyncClient, events: Events
) -> None:
    await converse(app, "/rooms/1", ["boom"], request_id="ws-first")
    await converse(app, "/rooms/2", ["boom"], request_id="ws-second")

    first, second = events()
    assert "ws-first" not in event_text(second)
    assert first["event_id"] not in event_text(second)
    assert breadcrumb_messages(second) == ["message received"]

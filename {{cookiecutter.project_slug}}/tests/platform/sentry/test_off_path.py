"""Errors after the response started (a background task, a streaming body): one event, tied to its request."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse

from tests.conftest import Events
from tests.support.units import breadcrumb_messages, event_text, lines_of, log_lines, trace_id

log = structlog.get_logger(__name__)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    def build_report(name: str) -> None:
        log.info("building report", report=name)
        raise RuntimeError(f"report {name} could not be built")

    @app.post("/reports/{name}", status_code=202)
    async def order_report(name: str, tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(build_report, name)
        return {"report": name}

    async def rows() -> AsyncIterator[bytes]:
        yield b"id,name\n"
        log.info("export half-way")
        raise RuntimeError("the export lost its cursor")

    @app.get("/export")
    async def export() -> StreamingResponse:
        return StreamingResponse(rows(), media_type="text/csv")

    return app


async def test_background_task_error_is_one_event_with_its_requests_id_route_and_trace(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    response = await client.post("/reports/monthly")

    assert response.status_code == 202
    (event,) = events()
    request_id = response.headers["X-Request-ID"]
    assert event["tags"]["request_id"] == request_id
    assert event["transaction"] == "/reports/{name}"
    assert event["request"]["method"] == "POST"
    lines = lines_of(log_stream, request_id)
    assert {line["event"] for line in lines} >= {"building report", "unexpected error after the response started"}
    assert {line["trace_id"] for line in lines} == {trace_id(event)}


async def test_background_task_error_is_logged_once_and_its_one_access_line_names_the_error(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    await client.post("/reports/monthly")

    events()
    texts = [line["event"] for line in log_lines(log_stream)]
    assert texts.count("unexpected error after the response started") == 1
    assert "unexpected error" not in texts
    (access,) = [line for line in log_lines(log_stream) if line["event"] == "request"]
    assert (access["status"], access["error"]) == (202, "INTERNAL_ERROR")


async def test_a_failing_stream_is_one_event_tied_to_its_request_and_cuts_the_response(
    app: FastAPI, events: Events, log_stream: io.StringIO
) -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)  # app exceptions reach the client, as a cut connection would
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            with pytest.raises(RuntimeError, match="lost its cursor"):
                await client.get("/export", headers={"X-Request-ID": "export-1"})

    (event,) = events()
    assert event["tags"]["request_id"] == "export-1"
    assert event["transaction"] == "/export"
    assert {line["trace_id"] for line in lines_of(log_stream, "export-1")} == {trace_id(event)}


async def test_no_breadcrumb_of_one_request_or_of_the_process_rides_in_another_requests_event(
    client: httpx.AsyncClient, events: Events
) -> None:
    log.info("process-level line")
    first = await client.post("/reports/first")
    second = await client.post("/reports/second")

    first_event, second_event = events()
    assert second_event["tags"]["request_id"] == second.headers["X-Request-ID"]
    assert first.headers["X-Request-ID"] not in event_text(second_event)
    assert first_event["event_id"] not in event_text(second_event)
    assert breadcrumb_messages(second_event) == ["building report"]

"""Start-up and shutdown: a failing step is one event, sent before the process goes on, and one log line."""

from __future__ import annotations

import io

import pytest
import structlog
from fastapi import FastAPI

from app import main as service_main
from tests.conftest import Events, open_client
from tests.support.units import breadcrumb_messages, log_lines

log = structlog.get_logger(__name__)


async def test_a_failing_start_up_step_is_one_unhandled_event_and_one_log_line(
    app: FastAPI, events: Events, log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_sessionmaker(*_: object) -> None:
        log.info("building the sessionmaker")
        raise RuntimeError("the sessionmaker could not be built")

    monkeypatch.setattr(service_main, "build_sessionmaker", broken_sessionmaker)

    with pytest.raises(RuntimeError, match="could not be built"):
        async with app.router.lifespan_context(app):
            pass

    (event,) = events()
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
    assert breadcrumb_messages(event) == ["building the sessionmaker"]
    errors = [line for line in log_lines(log_stream) if line["level"] == "error"]
    assert [(line["event"], line["event_id"]) for line in errors] == [("service start-up failed", event["event_id"])]


@pytest.mark.usefixtures("failing_engine_dispose")
async def test_a_failing_shutdown_step_is_one_event_and_its_log_line_names_it(
    app: FastAPI, events: Events, log_stream: io.StringIO
) -> None:
    async with app.router.lifespan_context(app):
        pass

    (event,) = events()
    errors = [line for line in log_lines(log_stream) if line["level"] == "error"]
    assert [(line["event"], line["event_id"]) for line in errors] == [("shutdown step failed", event["event_id"])]


async def test_start_up_lines_ride_in_no_request_event(app: FastAPI, events: Events) -> None:
    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("broken route")

    async for client in open_client(app):
        await client.get("/broken")

    (event,) = events()
    assert "service started" not in breadcrumb_messages(event)

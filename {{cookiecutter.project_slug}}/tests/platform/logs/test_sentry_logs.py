"""Sentry Logs (``SENTRY_ENABLE_LOGS``): every log line also sent as a Sentry log, its fields as attributes, through
the redaction policy, with the request's trace id; off unless asked, and the access line only if asked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import FastAPI

from app.core.config import Settings
from app.core.redaction import FILTERED, scrub_log
from app.main import create_app
from tests.conftest import MakeSettings, capture_service_log
from tests.support.sentry import FAKE_DSN, CapturingTransport

MARKERS = ("MARK-field-password", "MARK-extra-secret", "MARK-text-api-key", "MARK-exception-password")


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_ENABLE_LOGS=True, ENABLE_DEBUG_ROUTES=True)


async def logged() -> dict[str, str]:
    """A handler that logs as service code does: structlog with fields, a stdlib logger with extras."""
    structlog.get_logger("app.orders").info("order placed", order_id=42, password=MARKERS[0])
    logging.getLogger("app.legacy").warning(
        "legacy client %s said api_key=%s", "acme", MARKERS[2], extra={"item_id": 7, "secret": MARKERS[1]}
    )
    return {"ok": "yes"}


async def failing() -> None:
    raise ValueError(f"password={MARKERS[3]}")


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.add_api_route("/logged", logged)
    app.add_api_route("/failing", failing)
    return app


def sent_logs(transport: CapturingTransport) -> list[dict[str, Any]]:
    sentry_sdk.flush()  # logs leave in batches
    return transport.logs


def attributes(log: dict[str, Any]) -> dict[str, Any]:
    return {key: value["value"] for key, value in log["attributes"].items()}


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def by_logger(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [log for log in logs if attributes(log).get("logger.name") == name]


async def test_a_structlog_line_is_a_log_with_its_fields_as_attributes_and_the_requests_trace_id(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    response = await client.get("/logged")
    (log,) = by_logger(sent_logs(sentry_transport), "app.orders")
    (line,) = [r for r in json_lines(log_stream) if r["logger"] == "app.orders"]
    assert log["body"] == "order placed"
    assert log["level"] == "info"
    fields = attributes(log)
    assert fields["order_id"] == 42
    assert fields["request_id"] == response.headers["X-Request-ID"] == line["request_id"]
    assert fields["password"] == FILTERED
    assert log["trace_id"] == line["trace_id"]


async def test_a_stdlib_record_is_a_log_with_its_message_extras_and_the_requests_id(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    response = await client.get("/logged")
    (log,) = by_logger(sent_logs(sentry_transport), "app.legacy")
    assert log["level"] == "warn"
    assert log["body"].startswith("legacy client acme said api_key=")
    fields = attributes(log)
    assert fields["item_id"] == 7
    assert fields["secret"] == FILTERED
    assert fields["request_id"] == response.headers["X-Request-ID"]


async def test_an_error_line_and_its_event_share_the_trace_and_the_exception_is_named(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    await client.get("/failing")
    logs = [log for log in sent_logs(sentry_transport) if log["level"] == "error"]
    (log,) = logs
    (event,) = sentry_transport.events
    assert log["body"] == "unexpected error"
    assert log["trace_id"] == event["contexts"]["trace"]["trace_id"]
    fields = attributes(log)
    assert fields["exception.type"] == "ValueError"
    assert fields["event_id"] == event["event_id"]


async def test_no_planted_secret_reaches_a_log_item(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    await client.get("/logged")
    await client.get("/failing")
    assert len(sent_logs(sentry_transport)) >= 3
    log_items = json.dumps(sentry_transport.items("log"))
    assert [marker for marker in MARKERS if marker in log_items] == []


async def test_the_access_line_is_left_out_unless_asked(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    await client.get("/health/live")
    assert [r["path"] for r in json_lines(log_stream) if r["logger"] == "app.access"] == ["/health/live"]
    assert by_logger(sent_logs(sentry_transport), "app.access") == []


async def test_asked_for_the_access_line_is_a_log_per_request_and_still_a_line(
    make_settings: MakeSettings, sentry_transport: CapturingTransport
) -> None:
    settings = make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_ENABLE_LOGS=True, SENTRY_LOGS_ACCESS_LINE=True)
    app = create_app(settings, sentry_transport=sentry_transport)
    stream = capture_service_log()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/health/live")
    (log,) = by_logger(sent_logs(sentry_transport), "app.access")
    assert attributes(log)["path"] == "/health/live"
    assert attributes(log)["status"] == 200
    assert attributes(log)["request_id"] == response.headers["X-Request-ID"]
    assert [r["path"] for r in json_lines(stream) if r["logger"] == "app.access"] == ["/health/live"]


async def test_off_by_default_nothing_is_sent_as_a_log(
    make_settings: MakeSettings, sentry_transport: CapturingTransport
) -> None:
    app = create_app(make_settings(SENTRY_DSN=FAKE_DSN), sentry_transport=sentry_transport)
    app.add_api_route("/logged", logged)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/logged")).status_code == 200
    assert sent_logs(sentry_transport) == []
    assert [h.get_name() for h in logging.getLogger().handlers].count("sentry-logs") == 0


def test_building_the_app_again_never_sends_a_line_twice(
    settings: Settings, sentry_transport: CapturingTransport
) -> None:
    for _ in range(3):
        create_app(settings, sentry_transport=sentry_transport)
    structlog.get_logger("app.once").info("once")
    assert len(by_logger(sent_logs(sentry_transport), "app.once")) == 1


@pytest.mark.parametrize(
    ("log", "kept"),
    [
        ({"body": 5, "attributes": None}, {"body": "5", "attributes": {}}),
        (
            {"body": "token=abcdef123456", "attributes": {"sentry.message.parameter.password": "hunter2"}},
            {"body": f"token={FILTERED}", "attributes": {"sentry.message.parameter.password": FILTERED}},
        ),
        ({"body": "x", "attributes": ["not", "a", "mapping"]}, None),
        ({}, {"body": "", "attributes": {}}),
    ],
)
def test_the_log_scrubber_never_raises_and_drops_what_it_cannot_clean(
    log: dict[str, Any], kept: dict[str, Any] | None
) -> None:
    assert scrub_log(log, {}) == kept  # type: ignore[arg-type]

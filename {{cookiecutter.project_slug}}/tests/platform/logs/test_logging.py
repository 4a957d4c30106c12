"""Log lines: JSON outside development, request id and trace id inside a request (behaviour 6)."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.logging import configure_logging
from tests.conftest import MakeSettings, capture_service_log
from tests.support.sentry import CapturingTransport


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_every_line_is_json_with_timestamp_level_and_logger(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    await client.get("/health/live")
    await client.get("/sentry-debug")
    records = lines(log_stream)
    assert records
    for record in records:
        assert {"timestamp", "level", "logger", "event"} <= record.keys()
        assert record["timestamp"].endswith("Z")
        assert datetime.fromisoformat(record["timestamp"]).utcoffset() == timedelta(0)


async def test_access_line_has_route_status_and_duration(client: httpx.AsyncClient, log_stream: io.StringIO) -> None:
    response = await client.get("/health/live")
    (access,) = [r for r in lines(log_stream) if r["logger"] == "app.access"]
    assert access["method"] == "GET"
    assert access["path"] == "/health/live"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["request_id"] == response.headers["X-Request-ID"]


async def test_lines_inside_a_request_carry_request_and_trace_ids(
    client: httpx.AsyncClient, log_stream: io.StringIO, sentry_transport: CapturingTransport
) -> None:
    response = await client.get("/sentry-debug")
    request_lines = [r for r in lines(log_stream) if r.get("request_id") == response.headers["X-Request-ID"]]
    assert len(request_lines) >= 2
    assert all(len(r["trace_id"]) == 32 and len(r["span_id"]) == 16 for r in request_lines)
    (error_line,) = [r for r in request_lines if r["level"] == "error"]
    (event,) = sentry_transport.events
    assert error_line["trace_id"] == event["contexts"]["trace"]["trace_id"]
    assert error_line["event_id"] == event["event_id"]


async def test_access_line_names_the_full_route_template(client: httpx.AsyncClient, log_stream: io.StringIO) -> None:
    await client.get("/api/v1/notes/424242")
    (access,) = [r for r in lines(log_stream) if r["logger"] == "app.access"]
    assert access["path"] == "/api/v1/notes/{note_id}"
    assert access["status"] == 404


async def test_rejected_request_is_one_access_line_with_its_error_code(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    await client.post("/api/v1/notes", json={"title": ""})
    (line,) = lines(log_stream)
    assert line["logger"] == "app.access"
    assert line["status"] == 422
    assert line["error"] == "VALIDATION_ERROR"
    assert line["fields"] == ["body.title"]


async def test_error_line_has_structured_exception_without_locals(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    await client.get("/sentry-debug")
    (error_line,) = [r for r in lines(log_stream) if r["level"] == "error"]
    (exception,) = error_line["exception"]
    assert exception["exc_type"] == "ZeroDivisionError"
    assert all("locals" not in frame for frame in exception["frames"])


async def test_stdlib_records_use_the_same_renderer(app: FastAPI, log_stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Started server process")
    (record,) = lines(log_stream)
    assert record["logger"] == "uvicorn.error"
    assert record["event"] == "Started server process"


def test_configure_logging_is_idempotent(make_settings: MakeSettings) -> None:
    settings = make_settings()
    configure_logging(settings)
    configure_logging(settings)
    assert [h.get_name() for h in logging.getLogger().handlers].count("app") == 1


def test_development_defaults_to_console_output(make_settings: MakeSettings) -> None:
    assert make_settings(ENVIRONMENT="development", LOG_FORMAT=None).log_format == "console"
    assert make_settings(ENVIRONMENT="staging", LOG_FORMAT=None).log_format == "json"
    assert (
        make_settings(ENVIRONMENT="production", LOG_FORMAT=None, DATABASE_URL="postgresql+asyncpg://u@h/db").log_format
        == "json"
    )


def test_capture_logs_sees_structlog_events(settings: Settings) -> None:
    configure_logging(settings)
    with structlog.testing.capture_logs() as captured:
        structlog.get_logger("app.test").warning("disk almost full", free_mb=12)
    assert captured == [{"event": "disk almost full", "free_mb": 12, "log_level": "warning"}]


@pytest.mark.parametrize(("stream", "coloured"), [(io.StringIO(), False), (Terminal(), True)], ids=["file", "terminal"])
def test_console_output_is_coloured_only_on_a_terminal(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, coloured: bool
) -> None:
    monkeypatch.setattr(sys, "stdout", stream)
    configure_logging(make_settings(LOG_FORMAT="console"))

    structlog.get_logger("app.test").warning("disk almost full")

    assert "disk almost full" in stream.getvalue()
    assert ("\x1b[" in stream.getvalue()) is coloured


@pytest.mark.parametrize(("log_level", "shown"), [("INFO", False), ("DEBUG", True)])
async def test_sql_statements_are_logged_at_debug_only(
    make_settings: MakeSettings, database_url: str, log_level: str, shown: bool
) -> None:
    configure_logging(make_settings(LOG_LEVEL=log_level))
    stream = capture_service_log()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 4242"))
    finally:
        await engine.dispose()

    statements = [line for line in lines(stream) if line["event"] == "SELECT 4242"]
    assert bool(statements) is shown
    assert all(line["level"] == "debug" for line in statements)


async def test_every_field_of_a_line_goes_through_the_redaction_policy(app: FastAPI, log_stream: io.StringIO) -> None:
    structlog.get_logger("app.test").info(
        "charging", password="pw-1111", order={"apiKey": "k-2222", "note": "Bearer b-3333"}, status_code=201
    )
    logging.getLogger("app.test.stdlib").warning("upstream said %s", "token=t-4444")
    first, second = lines(log_stream)
    assert first["password"] == "[Filtered]"
    assert first["order"] == {"apiKey": "[Filtered]", "note": "Bearer [Filtered]"}
    assert first["status_code"] == 201
    assert second["event"] == "upstream said token=[Filtered]"


async def test_exception_text_in_a_line_is_redacted(app: FastAPI, log_stream: io.StringIO) -> None:
    error = ValueError("connect to postgresql://app:pw-5555@db/app failed")
    structlog.get_logger("app.test").error("database down", exc_info=error)
    (line,) = lines(log_stream)
    assert "pw-5555" not in json.dumps(line)
    assert line["exception"][0]["exc_value"] == "connect to postgresql://[Filtered]:[Filtered]@db/app failed"


async def test_an_unmatched_path_in_the_access_line_goes_through_the_value_rules(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    await client.get(f"/reset-password/{token}")
    (access,) = [r for r in lines(log_stream) if r["logger"] == "app.access"]
    assert access["path"] == "/reset-password/[Filtered]"


def test_console_output_redacts_fields_and_tracebacks(make_settings: MakeSettings) -> None:
    configure_logging(make_settings(ENVIRONMENT="development", LOG_FORMAT="console"))
    stream = capture_service_log()
    error = ValueError("connect to postgresql://app:pw-6666@db/app failed")
    structlog.get_logger("app.test").error("database down", api_key="k-7777", exc_info=error)
    output = stream.getvalue()
    assert "database down" in output
    assert "ValueError" in output
    assert "pw-6666" not in output
    assert "k-7777" not in output

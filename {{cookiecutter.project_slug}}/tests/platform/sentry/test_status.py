"""Whether Sentry is on is said once at start-up, and an unreachable Sentry is said once, not once per event."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from tests.conftest import MakeSettings, capture_service_log, open_client
from tests.support.sentry import STREAMING, reset_sentry


def records(stream: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["event"] == event]


async def started_line(app: FastAPI) -> dict[str, Any]:
    stream = capture_service_log()
    async with app.router.lifespan_context(app):
        pass
    (line,) = records(stream, "service started")
    return line


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but never listens: every connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_startup_line_names_sentry_host_project_environment_release_and_trace_rate(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(SENTRY_DSN="https://secretkey@o1.ingest.example.com/42", SENTRY_TRACES_SAMPLE_RATE=0.2)
    try:
        line = await started_line(create_app(settings))
    finally:
        reset_sentry()

    assert line["sentry"] == "on"
    assert line["sentry_host"] == "o1.ingest.example.com"
    assert line["sentry_project"] == "42"
    assert line["environment"] == "staging"
    assert line["release"] == settings.SENTRY_RELEASE
    assert line["traces_sample_rate"] == 0.2
    assert line["trace_lifecycle"] == ("stream" if STREAMING else "static")
    assert "secretkey" not in json.dumps(line)


async def test_startup_line_says_sentry_is_off_without_a_dsn(make_settings: MakeSettings) -> None:
    line = await started_line(create_app(make_settings(SENTRY_DSN=None)))

    assert line["sentry"] == "off"
    assert "sentry_host" not in line


async def test_unreachable_sentry_is_one_warning_however_many_events_fail(
    make_settings: MakeSettings, refusing_port: int
) -> None:
    settings: Settings = make_settings(SENTRY_DSN=f"http://secretkey@127.0.0.1:{refusing_port}/7")
    app = create_app(settings)
    stream = capture_service_log()
    try:
        async for client in open_client(app):
            responses = [await client.get("/sentry-debug") for _ in range(3)]
            sentry_sdk.flush(timeout=10.0)
    finally:
        reset_sentry()

    assert all(response.json().get("event_id") for response in responses), "each error was handed to the SDK"
    (warning,) = records(stream, "sentry events are not delivered")
    assert warning["level"] == "warning"
    assert warning["sentry_host"] == "127.0.0.1"
    assert "secretkey" not in stream.getvalue()

"""The access line: every field through the redaction policy, the request's own values, and never a failed request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request

from app.core.logging import add_to_access_line
from tests.conftest import Events, MakeSettings, capture_service_log, open_client
from tests.support.notes import NOTES, create_test_app
from tests.support.sentry import FAKE_DSN, CapturingTransport

FIELDS_ROUTE = "/test-access-fields"


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "app.access"]


def mount_fields_route(app: FastAPI, **fields: Any) -> None:
    """A route that leaves ``fields`` for its access line and binds a log field of its own."""

    async def with_fields(request: Request) -> dict[str, str]:
        add_to_access_line(request, **fields)
        structlog.contextvars.bind_contextvars(user_id="u-1")
        return {"status": "ok"}

    app.add_api_route(FIELDS_ROUTE, with_fields, methods=["GET"])


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(32, "Broken pipe")


@pytest.fixture(params=["json", "console"])
async def client_in(
    request: pytest.FixtureRequest, make_settings: MakeSettings, sentry_transport: CapturingTransport
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that logs in the parametrized format, with the fields route mounted."""
    settings = make_settings(LOG_FORMAT=request.param, SENTRY_DSN=FAKE_DSN)
    app = create_test_app(settings, sentry_transport=sentry_transport)
    mount_fields_route(app, api_token="tok_live_1111", note="password=hunter2")
    async for client in open_client(app):
        yield client


async def test_handler_fields_in_the_access_line_go_through_the_redaction_policy(
    client_in: httpx.AsyncClient,
) -> None:
    stream = capture_service_log()
    response = await client_in.get(FIELDS_ROUTE)
    assert response.status_code == 200
    output = stream.getvalue()
    assert "request" in output
    assert "tok_live_1111" not in output
    assert "hunter2" not in output
    assert "[Filtered]" in output


async def test_a_field_name_from_the_client_is_redacted_in_the_access_line(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    response = await client.post(NOTES, json={"title": "t", "password=hunter2": "x"})
    assert response.status_code == 422
    (access,) = access_lines(log_stream)
    assert access["fields"] == ["body.password=[Filtered]"]


@pytest.mark.parametrize("case", [({200: 7}, {"200": 7}), (2**70, 2**70)], ids=["int-keys", "huge-int"])
async def test_access_line_fields_that_orjson_refuses_are_written(
    app: FastAPI, client: httpx.AsyncClient, log_stream: io.StringIO, events: Events, case: tuple[Any, Any]
) -> None:
    value, written = case
    mount_fields_route(app, by_status=value)
    response = await client.get(FIELDS_ROUTE)
    assert response.status_code == 200
    (access,) = access_lines(log_stream)
    assert access["by_status"] == written
    assert events() == []


async def test_a_handler_field_named_like_the_lines_own_keeps_the_requests_values(
    app: FastAPI, client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    mount_fields_route(app, status="pending", path="/elsewhere", method="PUT", duration_ms=-1, request_id="forged")
    response = await client.get(FIELDS_ROUTE)
    (access,) = access_lines(log_stream)
    assert access["status"] == 200
    assert access["path"] == FIELDS_ROUTE
    assert access["method"] == "GET"
    assert access["duration_ms"] >= 0
    assert access["request_id"] == response.headers["X-Request-ID"]


async def test_a_failing_log_stream_never_fails_a_request(
    client_in: httpx.AsyncClient, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "app")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(BrokenStream())
    response = await client_in.get(FIELDS_ROUTE)
    assert response.status_code == 200
    assert events() == []
    assert "Broken pipe" in capsys.readouterr().err  # reported as logging reports a failed emit


async def test_a_request_leaves_the_callers_log_context_as_it_was(
    app: FastAPI, client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    mount_fields_route(app)
    with structlog.contextvars.bound_contextvars(job_id="j-1", request_id="job-7"):
        before = structlog.contextvars.get_contextvars()
        await client.get(FIELDS_ROUTE)
        assert structlog.contextvars.get_contextvars() == before


async def test_the_callers_log_context_stays_out_of_the_request(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    with structlog.contextvars.bound_contextvars(job_id="j-1", request_id="job-7"):
        response = await client.get("/health/live")
    (access,) = access_lines(log_stream)
    assert "job_id" not in access
    assert access["request_id"] == response.headers["X-Request-ID"]

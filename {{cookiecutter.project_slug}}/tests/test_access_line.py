"""The access line: every field through the redaction policy, the request's own values, and never a failed request."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from app.core.logging import add_to_access_line
from tests.conftest import Events

FIELDS_ROUTE = "/test-access-fields"


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "app.access"]


def mount_fields_route(app: FastAPI, **fields: Any) -> None:
    """A route that leaves ``fields`` for its access line."""

    async def with_fields(request: Request) -> dict[str, str]:
        add_to_access_line(request, **fields)
        return {"status": "ok"}

    app.add_api_route(FIELDS_ROUTE, with_fields, methods=["GET"])


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

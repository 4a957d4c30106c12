"""Malformed requests get a 4xx in the standard envelope, no Sentry event and no traceback in the logs."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.core.config import Settings
from tests.conftest import MakeSettings
from tests.support.sentry import FAKE_DSN

Events = Callable[[], list[dict[str, Any]]]
LIMIT = 64 * 1024


class Note(BaseModel):
    text: str


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, MAX_REQUEST_BODY_BYTES=LIMIT)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/notes")
    async def create_note(note: Note) -> Note:
        return note

    return app


def assert_clean_4xx(response: httpx.Response, status: int, events: Events, logs: io.StringIO) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert {"error", "message", "details", "request_id"} <= body.keys()
    assert "event_id" not in body
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert events() == []
    assert "Traceback" not in logs.getvalue()
    assert '"exception"' not in logs.getvalue()
    return body


async def test_invalid_json_is_422(client: httpx.AsyncClient, events: Events, log_stream: io.StringIO) -> None:
    response = await client.post("/notes", content=b'{"text": ', headers={"Content-Type": "application/json"})
    assert assert_clean_4xx(response, 422, events, log_stream)["error"] == "VALIDATION_ERROR"


async def test_wrong_content_type_is_422(client: httpx.AsyncClient, events: Events, log_stream: io.StringIO) -> None:
    response = await client.post("/notes", content=b"text=hello", headers={"Content-Type": "text/plain"})
    assert_clean_4xx(response, 422, events, log_stream)


async def test_many_field_errors_are_cut_to_the_first_twenty_and_counted(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    unknown_keys = 2_000  # each one an error: the notes resource forbids extra keys
    payload = {"title": "ok", **{f"key_{index}": index for index in range(unknown_keys)}}

    response = await client.post("/api/v1/notes", json=payload)

    details = assert_clean_4xx(response, 422, events, log_stream)["details"]
    assert [error["field"] for error in details["errors"]] == [f"body.key_{index}" for index in range(20)]
    assert details["more_errors"] == unknown_keys - 20
    (access,) = [line for line in map(json.loads, log_stream.getvalue().splitlines()) if line["logger"] == "app.access"]
    assert (len(access["fields"]), access["more_errors"]) == (20, unknown_keys - 20)
    assert len(response.content) + len(log_stream.getvalue()) < 10_000


async def test_few_field_errors_are_listed_without_a_count(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/notes", json={"title": "", "extra": 1})

    assert response.status_code == 422
    assert response.json()["details"].keys() == {"errors"}


async def test_oversized_body_with_length_is_413(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    payload = json.dumps({"text": "x" * (LIMIT * 4)}).encode()
    response = await client.post("/notes", content=payload, headers={"Content-Type": "application/json"})
    body = assert_clean_4xx(response, 413, events, log_stream)
    assert body["error"] == "PAYLOAD_TOO_LARGE"
    (access,) = [line for line in map(json.loads, log_stream.getvalue().splitlines()) if line["logger"] == "app.access"]
    assert access | {"status": 413, "error": "PAYLOAD_TOO_LARGE", "request_id": body["request_id"]} == access


async def test_oversized_streamed_body_is_413(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(4):
            yield b"x" * LIMIT
        yield b'"}'

    response = await client.post("/notes", content=chunks(), headers={"Content-Type": "application/json"})
    assert assert_clean_4xx(response, 413, events, log_stream)["error"] == "PAYLOAD_TOO_LARGE"


async def test_deeply_nested_json_is_rejected_cleanly(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    depth = 20_000  # within the size limit, far deeper than the JSON parser recurses
    payload = b"[" * depth + b"]" * depth
    response = await client.post("/notes", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code in {400, 422}
    assert_clean_4xx(response, response.status_code, events, log_stream)


async def test_non_utf8_body_is_4xx(client: httpx.AsyncClient, events: Events, log_stream: io.StringIO) -> None:
    response = await client.post(
        "/notes", content=b'{"text": "\xff\xfe\xfa"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code in {400, 422}
    assert_clean_4xx(response, response.status_code, events, log_stream)


@pytest.mark.parametrize(
    "header",
    [b"x" * 10_000, b"abc\r\nX-Injected: 1", b"abc\nInjected-Log-Line", b'abc"},{"forged": "json'],
    ids=["huge", "crlf", "lf", "json-breakout"],
)
async def test_hostile_request_id_is_replaced_and_never_echoed(
    client: httpx.AsyncClient, log_stream: io.StringIO, header: bytes
) -> None:
    response = await client.get("/health/live", headers=[(b"X-Request-ID", header)])
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert request_id.encode() != header
    assert "X-Injected" not in response.headers
    logs = log_stream.getvalue()
    assert header.decode("latin-1") not in logs
    assert "Injected-Log-Line" not in logs
    assert all(json.loads(line)["request_id"] == request_id for line in logs.splitlines() if "request_id" in line)

"""Every error response uses one envelope and carries the request id (behaviour 1 and 5)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from app import exceptions
from app.core.ids import random_hex_id
from app.schemas.errors import REQUEST_ID_HEADER, error_response

ENVELOPE_KEYS = {"error", "message", "details", "request_id"}


class Item(BaseModel):
    name: str
    quantity: int


class DuplicateKeyError(Exception):
    """A driver's error for a duplicate value, as PostgreSQL reports it."""

    sqlstate = "23505"


def _raise(exc: BaseException) -> Any:
    async def route() -> None:
        raise exc

    return route


APP_ERRORS = [
    (exceptions.NotFoundError("Post 7 not found", details={"post_id": 7}), 404, "NOT_FOUND"),
    (exceptions.ValidationError("Title taken"), 422, "VALIDATION_ERROR"),
    (exceptions.AuthenticationError(), 401, "AUTHENTICATION_ERROR"),
    (exceptions.AuthorizationError(), 403, "AUTHORIZATION_ERROR"),
    (exceptions.ConflictError("Duplicate", details={"field": "title"}), 409, "CONFLICT_ERROR"),
    (exceptions.ExternalServiceError("Upstream down", service_name="billing"), 503, "EXTERNAL_SERVICE_ERROR"),
    (exceptions.ServiceUnavailableError(), 503, "SERVICE_UNAVAILABLE"),
    (exceptions.AppException("Teapot", status_code=418, error_code="TEAPOT"), 418, "TEAPOT"),
]


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    for index, (exc, _, _) in enumerate(APP_ERRORS):
        app.add_api_route(f"/raise/{index}", _raise(exc))
    app.add_api_route("/raise/unexpected", _raise(RuntimeError("db password=hunter2 at 10.0.0.7")))
    app.add_api_route(
        "/raise/integrity",
        _raise(IntegrityError("INSERT INTO posts ...", {"title": "x"}, DuplicateKeyError("duplicate uq_posts_title"))),
    )

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    return app


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert ENVELOPE_KEYS <= body.keys() <= ENVELOPE_KEYS | {"event_id"}
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], dict)
    assert body["request_id"] == response.headers[REQUEST_ID_HEADER]
    return body


@pytest.mark.parametrize(("index", "status", "code"), [(i, s, c) for i, (_, s, c) in enumerate(APP_ERRORS)])
async def test_app_exception_uses_error_envelope(client: httpx.AsyncClient, index: int, status: int, code: str) -> None:
    exc = APP_ERRORS[index][0]
    body = assert_envelope(await client.get(f"/raise/{index}"), status, code)
    assert body["message"] == exc.message
    assert body["details"] == exc.details


async def test_external_service_error_names_the_service(client: httpx.AsyncClient) -> None:
    index = next(i for i, (exc, _, _) in enumerate(APP_ERRORS) if isinstance(exc, exceptions.ExternalServiceError))
    body = assert_envelope(await client.get(f"/raise/{index}"), 503, "EXTERNAL_SERVICE_ERROR")
    assert body["details"]["service"] == "billing"


async def test_request_validation_lists_field_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "x", "quantity": "many", "secret": "s3cr3t"})
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    errors = body["details"]["errors"]
    assert [error["field"] for error in errors] == ["body.quantity"]
    assert {"field", "message", "type"} == set(errors[0])
    assert "many" not in response.text


async def test_invalid_json_body_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_envelope(response, 422, "VALIDATION_ERROR")


async def test_unknown_route_uses_error_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/no/such/route"), 404, "NOT_FOUND")


async def test_wrong_method_uses_error_envelope_and_allow_header(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health/live")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]


async def test_integrity_error_is_409_without_database_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/integrity")
    assert_envelope(response, 409, "CONFLICT_ERROR")
    for leaked in ("INSERT", "uq_posts_title", "duplicate", "posts"):
        assert leaked not in response.text


async def test_unexpected_error_is_generic_500_with_event_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/unexpected")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "An unexpected error occurred"
    assert "event_id" in body
    for leaked in ("hunter2", "10.0.0.7", "RuntimeError", "Traceback", 'File "'):
        assert leaked not in response.text


async def test_valid_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route", headers={REQUEST_ID_HEADER: "abc-123.x:y"})
    assert response.headers[REQUEST_ID_HEADER] == "abc-123.x:y"
    assert response.json()["request_id"] == "abc-123.x:y"


@pytest.mark.parametrize("bad", [b"x" * 200, b"a b", b"<script>", "\u00fcmlaut".encode(), b"id\\x00null"])
async def test_unsafe_incoming_request_id_is_replaced(client: httpx.AsyncClient, bad: bytes) -> None:
    response = await client.get("/health/live", headers=[(REQUEST_ID_HEADER.encode(), bad)])
    assert response.headers[REQUEST_ID_HEADER].encode() != bad
    assert len(response.headers[REQUEST_ID_HEADER]) == 32


async def test_success_response_carries_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers[REQUEST_ID_HEADER])


async def test_each_request_gets_a_new_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health/live")).headers[REQUEST_ID_HEADER] for _ in range(50)}
    assert len(ids) == 50


def test_new_ids_are_lowercase_hex_of_the_asked_width() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", random_hex_id())
    assert re.fullmatch(r"[0-9a-f]{16}", random_hex_id(64))
    assert len({random_hex_id(64) for _ in range(10_000)}) == 10_000


def test_envelope_details_with_int_keys_are_rendered() -> None:
    response = error_response(
        status_code=409, error="CONFLICT_ERROR", message="Conflict", request_id="r-1", details={"by_status": {404: 2}}
    )
    assert json.loads(bytes(response.body))["details"] == {"by_status": {"404": 2}}

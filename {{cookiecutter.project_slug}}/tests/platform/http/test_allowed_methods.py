"""A wrong method gets a 405 whose Allow header lists every method served at that path (RFC 9110, 15.5.6)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app

# Methods no route of the service answers: each must be a 405 on every path.
UNSERVED_METHODS = ("OPTIONS", "PUT", "TRACE")
# FastAPI serves its schema and docs pages itself, outside the schema (Starlette routes: HEAD with GET).
UNDOCUMENTED_PATHS = dict.fromkeys(("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"), "GET, HEAD")


def documented_allow_headers(app: FastAPI) -> dict[str, str]:
    """What each documented path must answer in Allow: the methods of its operations in the schema."""
    paths = app.openapi()["paths"]
    return {path: ", ".join(sorted(method.upper() for method in operations)) for path, operations in paths.items()}


def concrete(path: str) -> str:
    """A request path for a route path: every parameter filled in with a value its route accepts."""
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def expected(app: FastAPI) -> dict[str, str]:
    return documented_allow_headers(app) | UNDOCUMENTED_PATHS


@pytest.mark.parametrize("method", UNSERVED_METHODS)
async def test_every_path_lists_all_its_methods_in_allow(
    client: httpx.AsyncClient, expected: dict[str, str], method: str
) -> None:
    answers = {}
    for path in expected:
        response = await client.request(method, concrete(path))
        answers[path] = (response.status_code, response.headers.get("allow"), response.json()["error"])
    assert answers == {path: (405, allow, "METHOD_NOT_ALLOWED") for path, allow in expected.items()}


def test_the_tests_resource_has_several_methods_per_path(app: FastAPI) -> None:
    """Starlette's own header names one of them: the test above is only meaningful with several."""
    allow = documented_allow_headers(app)
    assert allow["/api/v1/notes"] == "GET, POST"
    assert allow["/api/v1/notes/{note_id}"] == "DELETE, GET, PATCH"


async def test_routes_added_after_create_app_are_in_allow(make_settings: MakeSettings) -> None:
    app = create_test_app(make_settings())

    @app.put("/api/v1/notes")
    async def replace_notes() -> None:
        """A route a service author adds later: it must show up in the header too."""

    async for client in open_client(app):
        response = await client.request("OPTIONS", "/api/v1/notes")
        assert response.headers["allow"] == "GET, POST, PUT"


async def test_allow_is_read_below_the_root_path(make_settings: MakeSettings) -> None:
    """Behind a proxy that serves the service under a prefix (uvicorn --root-path), the routes are the same."""
    app = create_test_app(make_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/service")
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.request("OPTIONS", "/service/api/v1/notes/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"

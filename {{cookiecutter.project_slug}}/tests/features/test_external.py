"""/api/v1/external: upstream failures become 503 EXTERNAL_SERVICE_ERROR naming the upstream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.clients.external_api import SERVICE_NAME, ExternalAPIClient, get_external_api
from app.core.config import Settings
from tests.support.db import SilentServer

MakeSettings = Callable[..., Settings]
Handler = Callable[[httpx.Request], httpx.Response]
RESOURCE = "/api/v1/external/resources"


@pytest.fixture
async def upstream(app: FastAPI) -> AsyncIterator[Callable[[Handler], list[httpx.Request]]]:
    """Serve the upstream API from a function; returns the list of requests it received."""
    clients: list[httpx.AsyncClient] = []

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        client = httpx.AsyncClient(transport=httpx.MockTransport(record), base_url="https://upstream.test")
        clients.append(client)
        app.dependency_overrides[get_external_api] = lambda: ExternalAPIClient(client)
        return seen

    yield install
    app.dependency_overrides.clear()
    for client in clients:
        await client.aclose()


def assert_upstream_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "EXTERNAL_SERVICE_ERROR"
    assert body["details"]["service"] == SERVICE_NAME
    return body


async def test_resource_is_returned(client: httpx.AsyncClient, upstream: Any) -> None:
    seen = upstream(lambda request: httpx.Response(200, json={"id": "42", "name": "answer"}))

    response = await client.get(f"{RESOURCE}/42")

    assert response.status_code == 200
    assert response.json() == {"id": "42", "name": "answer"}
    assert seen[0].url.path == "/resources/42"


async def test_resource_id_cannot_escape_the_resource_path() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(record), base_url="https://upstream.test") as client:
        await ExternalAPIClient(client).fetch_resource("../admin?all=1")

    assert seen[0].url.raw_path == b"/resources/..%2Fadmin%3Fall%3D1"


async def test_upstream_server_error_is_503(client: httpx.AsyncClient, upstream: Any) -> None:
    upstream(lambda request: httpx.Response(500, text="database password=hunter2 leaked"))

    body = assert_upstream_error(await client.get(f"{RESOURCE}/42"))

    assert "hunter2" not in str(body)


async def test_upstream_error_is_sent_to_sentry_once(
    client: httpx.AsyncClient, upstream: Any, events: Callable[[], list[dict[str, Any]]]
) -> None:
    upstream(lambda request: httpx.Response(502))

    body = assert_upstream_error(await client.get(f"{RESOURCE}/42"))

    [event] = events()
    assert event["event_id"] == body["event_id"]


async def test_upstream_not_found_is_404(client: httpx.AsyncClient, upstream: Any) -> None:
    upstream(lambda request: httpx.Response(404))

    response = await client.get(f"{RESOURCE}/missing")

    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("read timed out"), httpx.ConnectError("connection refused")],
    ids=["timeout", "refused"],
)
async def test_upstream_unreachable_is_503(client: httpx.AsyncClient, upstream: Any, exc: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    upstream(fail)

    assert_upstream_error(await client.get(f"{RESOURCE}/42"))


@pytest.mark.parametrize("content", [b"<html>not json</html>", b"[1, 2, 3]"])
async def test_upstream_payload_that_is_not_an_object_is_503(
    client: httpx.AsyncClient, upstream: Any, content: bytes
) -> None:
    upstream(lambda request: httpx.Response(200, content=content))

    assert_upstream_error(await client.get(f"{RESOURCE}/42"))


class TestUpstreamHangs:
    """A real socket that never answers: the client's own timeout ends the call."""

    @pytest.fixture
    def settings(self, make_settings: MakeSettings, silent_server: SilentServer) -> Settings:
        return make_settings(EXTERNAL_API_BASE_URL=f"http://127.0.0.1:{silent_server.port}", EXTERNAL_API_TIMEOUT=0.3)

    async def test_call_gives_up_after_the_timeout(self, client: httpx.AsyncClient) -> None:
        started = time.perf_counter()

        assert_upstream_error(await client.get(f"{RESOURCE}/42"))

        assert 0.25 < time.perf_counter() - started < 3.0


async def test_client_has_a_deadline_and_the_configured_base_url(make_settings: MakeSettings) -> None:
    external_api = ExternalAPIClient.open(
        make_settings(EXTERNAL_API_BASE_URL="https://api.example.org/v2", EXTERNAL_API_TIMEOUT=4.0)
    )
    client = external_api.http
    await external_api.aclose()

    assert external_api.timeout == 4.0

    assert client.base_url == httpx.URL("https://api.example.org/v2/")
    assert (client.timeout.read, client.timeout.write, client.timeout.pool) == (4.0, 4.0, 4.0)
    assert client.timeout.connect is not None
    assert client.timeout.connect <= 4.0

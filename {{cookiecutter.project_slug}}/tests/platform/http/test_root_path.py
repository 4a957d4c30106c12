"""Behind a proxy that serves the service under a prefix (``uvicorn --root-path /svc``), Sentry sees the same service.

uvicorn (0.34 and later) puts the prefix into ``scope["path"]`` and sets ``scope["root_path"]``; httpx's
``ASGITransport(root_path=...)`` called with the prefixed URL builds exactly that scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.core.paths import is_health_path, route_path
from tests.conftest import MakeSettings, open_client
from tests.support.sentry import FAKE_DSN, CapturingTransport

ROOT = "/svc"
TOKEN = "Kx9fLmQ2wz"  # a value no other redaction rule would catch: only its parameter's name gives it away


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0, ENABLE_DEBUG_ROUTES=True)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/reset/{token}")
    async def reset_password(token: str) -> None:
        raise RuntimeError("the reset failed")

    @app.get("/health/fails")
    async def failing_probe() -> None:
        raise RuntimeError("the probe failed")

    @app.get("/healthcare/fails")
    async def failing_healthcare_route() -> None:
        raise RuntimeError("a healthcare route failed")

    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service as uvicorn --root-path /svc serves it: every URL starts with the prefix."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path=ROOT)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_event_and_transaction_urls_carry_the_root_path_once(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get(f"{ROOT}/sentry-debug")).status_code == 500
    sentry_transport.everything_sent()
    (event,) = sentry_transport.events
    assert event["request"]["url"] == "http://testserver/svc/sentry-debug"
    assert len(sentry_transport.traced()) == 1
    for transaction in sentry_transport.transactions:  # a streamed segment carries no URL
        assert transaction["request"]["url"] == "http://testserver/svc/sentry-debug"


async def test_a_secret_route_parameter_is_filtered_below_the_root_path(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get(f"{ROOT}/reset/{TOKEN}")).status_code == 500
    sent = sentry_transport.everything_sent()
    (event,) = sentry_transport.events
    assert event["request"]["url"] == "http://testserver/svc/reset/[Filtered]"
    assert len(sentry_transport.traced()) == 1
    for transaction in sentry_transport.transactions:  # a streamed segment carries no URL
        assert transaction["request"]["url"] == "http://testserver/svc/reset/[Filtered]"
    assert TOKEN not in sent


async def test_a_failing_probe_below_the_root_path_is_neither_reported_nor_traced(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get(f"{ROOT}/health/fails")).status_code == 500
    sentry_transport.everything_sent()
    assert sentry_transport.events == []
    assert sentry_transport.traced() == []


async def test_an_error_on_a_route_that_only_starts_like_health_is_reported_and_traced(
    app: FastAPI, sentry_transport: CapturingTransport
) -> None:
    async for client in open_client(app):  # no root path: the route's own path starts with "/health"
        assert (await client.get("/healthcare/fails")).status_code == 500
    sentry_transport.everything_sent()
    (event,) = sentry_transport.events
    (traced,) = sentry_transport.traced()
    assert event["transaction"] == traced["name"] == "/healthcare/fails"


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/svc/health/live", "/svc", "/health/live"),  # uvicorn >= 0.34: the prefix is in the path
        ("/health/live", "/svc", "/health/live"),  # a server that keeps it out
        ("/svc", "/svc", ""),
        ("/svcx/health", "/svc", "/svcx/health"),  # a longer first segment is not the prefix
        ("/health/live", "", "/health/live"),
    ],
)
def test_route_path_is_the_path_below_the_root_path(path: str, root: str, expected: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root}) == expected


@pytest.mark.parametrize(
    ("path", "probe"), [("/health", True), ("/health/live", True), ("/healthcare", False), ("/api/health", False)]
)
def test_only_the_health_segment_is_a_probe(path: str, probe: bool) -> None:
    assert is_health_path(path) is probe

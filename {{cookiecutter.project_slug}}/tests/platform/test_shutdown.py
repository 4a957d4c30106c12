"""SIGTERM drains: readiness answers 503 at once, and the server's own handler runs SHUTDOWN_DRAIN_SECONDS later.

A stand-in for uvicorn's SIGTERM handler is installed before the lifespan starts, as uvicorn installs its own.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.conftest import open_client
from tests.support.notes import create_test_app
from tests.support.sentry import CapturingTransport

MakeSettings = Callable[..., Settings]
SIGNAL_TIMEOUT_SECONDS = 5.0


class ServerHandler:
    """Records the SIGTERMs the server's handler receives, and when the first arrived."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.called = asyncio.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self.called.set()


@pytest.fixture
def server_handler() -> Iterator[ServerHandler]:
    handler = ServerHandler()
    previous = signal.signal(signal.SIGTERM, handler)
    yield handler
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def drain_seconds() -> float:
    return 0.0


@pytest.fixture
def settings(make_settings: MakeSettings, drain_seconds: float) -> Settings:
    return make_settings(SHUTDOWN_DRAIN_SECONDS=drain_seconds)


@pytest.fixture
def app(settings: Settings, sentry_transport: CapturingTransport) -> FastAPI:
    return create_test_app(settings, sentry_transport=sentry_transport)


@pytest.fixture
async def client(app: FastAPI, server_handler: ServerHandler) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(app):
        yield client


async def test_ready_answers_503_once_sigterm_arrives(client: httpx.AsyncClient) -> None:
    before = await client.get("/health/ready")

    signal.raise_signal(signal.SIGTERM)
    after = await client.get("/health/ready")

    assert before.status_code == 200
    assert after.status_code == 503
    assert after.json()["error"] == "SERVICE_UNAVAILABLE"
    assert after.json()["details"] == {"shutdown": "draining"}


async def test_other_routes_keep_serving_while_draining(client: httpx.AsyncClient) -> None:
    signal.raise_signal(signal.SIGTERM)

    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/api/v1/notes")).status_code == 200


async def test_the_servers_handler_runs_after_the_drain(
    client: httpx.AsyncClient, server_handler: ServerHandler
) -> None:
    signal.raise_signal(signal.SIGTERM)
    await asyncio.wait_for(server_handler.called.wait(), SIGNAL_TIMEOUT_SECONDS)

    assert server_handler.received == [signal.SIGTERM]


class TestLongDrain:
    @pytest.fixture
    def drain_seconds(self) -> float:
        return 3600.0

    async def test_the_server_waits_for_the_drain(
        self, client: httpx.AsyncClient, server_handler: ServerHandler
    ) -> None:
        signal.raise_signal(signal.SIGTERM)
        await client.get("/health/ready")  # the loop has run the hand-over by the time a request is answered

        assert server_handler.received == []

    async def test_a_second_sigterm_stops_at_once(
        self, client: httpx.AsyncClient, server_handler: ServerHandler
    ) -> None:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)

        assert server_handler.received == [signal.SIGTERM]


async def test_the_servers_handler_is_restored_after_shutdown(app: FastAPI, server_handler: ServerHandler) -> None:
    async for _ in open_client(app):
        assert signal.getsignal(signal.SIGTERM) is not server_handler

    assert signal.getsignal(signal.SIGTERM) is server_handler


async def test_without_a_server_handler_sigterm_is_left_alone(app: FastAPI) -> None:
    async for client in open_client(app):
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert (await client.get("/health/ready")).status_code == 200

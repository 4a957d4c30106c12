"""Liveness never touches the database; readiness answers 503, in bounded time, while the database is away."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from app.core.config import Settings
from tests.support.db import SilentServer, TcpProxy, closed_port, create_schema, server_url, sqlite_url

MakeSettings = Callable[..., Settings]
NOTES = "/api/v1/notes"
# Generous for a shared CI machine, yet far below the default timeouts a hang would run into.
BOUND_SECONDS = 3.0
HEALTH_CHECK_TIMEOUT = 1.0


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.get(path)
    return response, time.perf_counter() - started


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"


async def test_live_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


class TestDatabaseRefusesConnections:
    @pytest.fixture
    def settings(self, make_settings: MakeSettings) -> Settings:
        return make_settings(DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{closed_port()}/app")

    async def test_ready_is_503_at_once(self, client: httpx.AsyncClient) -> None:
        response, elapsed = await timed_get(client, "/health/ready")

        assert_unavailable(response)
        assert response.json()["details"] == {"database": "unavailable"}
        assert elapsed < BOUND_SECONDS

    async def test_live_stays_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/live")

        assert response.status_code == 200

    async def test_api_request_is_503(self, client: httpx.AsyncClient) -> None:
        response, elapsed = await timed_get(client, NOTES)

        assert_unavailable(response)
        assert elapsed < BOUND_SECONDS


class TestDatabaseHangs:
    @pytest.fixture
    def settings(self, make_settings: MakeSettings, silent_server: SilentServer) -> Settings:
        return make_settings(
            DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{silent_server.port}/app",
            HEALTH_CHECK_TIMEOUT=0.5,
            DB_CONNECT_TIMEOUT=0.5,
        )

    async def test_ready_gives_up_after_the_health_check_timeout(self, client: httpx.AsyncClient) -> None:
        response, elapsed = await timed_get(client, "/health/ready")

        assert_unavailable(response)
        assert 0.4 < elapsed < BOUND_SECONDS

    async def test_api_request_gives_up_after_the_connect_timeout(self, client: httpx.AsyncClient) -> None:
        response, elapsed = await timed_get(client, NOTES)

        assert_unavailable(response)
        assert 0.4 < elapsed < BOUND_SECONDS


class TestSqliteFileAppearsLater:
    """SQLite: the database file cannot be opened at first, then it can; the same process recovers."""

    @pytest.fixture
    def database_path(self, tmp_path: Path) -> Path:
        return tmp_path / "not-yet" / "service.db"

    @pytest.fixture
    def settings(self, make_settings: MakeSettings, database_path: Path) -> Settings:
        return make_settings(DATABASE_URL=sqlite_url(database_path))

    async def test_service_recovers_without_a_restart(self, client: httpx.AsyncClient, database_path: Path) -> None:
        assert_unavailable(await client.get("/health/ready"))
        assert_unavailable(await client.get(NOTES))

        database_path.parent.mkdir()
        await create_schema(sqlite_url(database_path))

        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.get(NOTES)).status_code == 200


@pytest.mark.skipif(server_url() is None, reason="needs a PostgreSQL server: set TEST_DATABASE_URL")
class TestPostgresOutage:
    """PostgreSQL behind a proxy that we cut: pooled connections die, new ones are refused, then it is back."""

    @pytest.fixture
    async def proxy(self, database_url: str) -> AsyncIterator[TcpProxy]:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        yield proxy
        await proxy.stop()

    @pytest.fixture
    def settings(self, make_settings: MakeSettings, database_url: str, proxy: TcpProxy) -> Settings:
        through_proxy = make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False)
        return make_settings(
            DATABASE_URL=through_proxy, HEALTH_CHECK_TIMEOUT=HEALTH_CHECK_TIMEOUT, DB_CONNECT_TIMEOUT=1.0
        )

    async def test_outage_is_503_and_the_service_recovers_without_a_restart(
        self, client: httpx.AsyncClient, proxy: TcpProxy
    ) -> None:
        created = await client.post(NOTES, json={"title": "Survives", "body": ""})
        assert created.status_code == 201

        await proxy.stop()
        for path in ("/health/ready", NOTES):
            response, elapsed = await timed_get(client, path)
            assert_unavailable(response)
            assert elapsed < BOUND_SECONDS

        await proxy.start()
        assert (await client.get("/health/ready")).status_code == 200
        page = (await client.get(NOTES)).json()
        assert [note["title"] for note in page["items"]] == ["Survives"]

    async def test_database_that_stops_answering_is_503_in_bounded_time(
        self, client: httpx.AsyncClient, proxy: TcpProxy
    ) -> None:
        assert (await client.get("/health/ready")).status_code == 200  # the pool now holds a connection

        proxy.pause()
        response, elapsed = await timed_get(client, "/health/ready")
        proxy.resume()

        assert_unavailable(response)
        # The health check timeout, plus up to 2 s that SQLAlchemy spends closing the hung connection.
        assert elapsed < HEALTH_CHECK_TIMEOUT + 2 + 1
        assert (await client.get("/health/ready")).status_code == 200

"""One transaction per request: committed when the route succeeds, rolled back when anything fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.db.engine import build_engine
from app.db.session import build_sessionmaker
from app.exceptions import ServiceUnavailableError
from tests.support import notes as support_notes
from tests.support.notes import NOTES

MakeSettings = Callable[..., Settings]


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(settings)
    yield build_sessionmaker(engine)
    await engine.dispose()


async def count_notes(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await support_notes.count(session)


def fail_after_write(exc: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every write of the notes route reach the database, then raise."""

    async def fail(session: AsyncSession) -> None:
        await session.flush()
        raise exc

    monkeypatch.setattr(support_notes, "after_write", fail)


@pytest.mark.parametrize(
    ("exc", "status"),
    [(ServiceUnavailableError("cache down"), 503), (RuntimeError("bug after the write"), 500)],
)
async def test_request_that_fails_after_a_write_commits_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    status: int,
) -> None:
    fail_after_write(exc, monkeypatch)

    response = await client.post(NOTES, json={"title": "Never", "body": "stored"})

    assert response.status_code == status
    assert await count_notes(sessionmaker) == 0


async def test_failed_update_leaves_the_row_unchanged(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = (await client.post(NOTES, json={"title": "Original", "body": ""})).json()
    fail_after_write(RuntimeError("bug after the write"), monkeypatch)

    await client.patch(f"{NOTES}/{created['id']}", json={"title": "Changed"})

    assert (await client.get(f"{NOTES}/{created['id']}")).json()["title"] == "Original"


def lose_connection_on_commit(connection: Connection) -> None:
    raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost during COMMIT"))


async def test_commit_failure_is_an_error_response_not_a_success(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The route succeeds; only the final COMMIT fails, as when the connection drops at the last moment.
    event.listen(app.state.engine.sync_engine, "commit", lose_connection_on_commit)

    response = await client.post(NOTES, json={"title": "Lost", "body": ""})

    assert response.status_code == 503
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"
    assert await count_notes(sessionmaker) == 0


@pytest.mark.parametrize(("environment", "hidden"), [("development", False), ("staging", True)])
def test_sql_parameters_stay_out_of_errors_outside_development(
    make_settings: MakeSettings, environment: str, hidden: bool
) -> None:
    engine = build_engine(make_settings(ENVIRONMENT=environment))

    assert engine.sync_engine.hide_parameters is hidden


def test_postgres_engine_has_a_bounded_pool(make_settings: MakeSettings) -> None:
    settings = make_settings(
        DATABASE_URL="postgresql+asyncpg://app@127.0.0.1:5432/app",
        DB_POOL_SIZE=3,
        DB_MAX_OVERFLOW=2,
        DB_POOL_TIMEOUT=1.5,
    )

    pool: Any = build_engine(settings).pool

    assert (pool.size(), pool._max_overflow, pool._timeout, pool._pre_ping) == (3, 2, 1.5, True)

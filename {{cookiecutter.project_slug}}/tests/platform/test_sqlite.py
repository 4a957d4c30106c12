"""SQLite behaves like PostgreSQL where it matters to tests: concurrent writers wait, readers never wait for each
other, foreign keys hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.db.base import NAMING_CONVENTION
from app.db.engine import build_engine
from app.db.session import SessionDep
from tests.support.notes import NOTES, notes

CONCURRENT_UPDATES = 40

metadata = MetaData(naming_convention=NAMING_CONVENTION)
parents = Table("test_parents", metadata, Column("id", Integer, primary_key=True))
children = Table(
    "test_children",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", ForeignKey("test_parents.id"), nullable=False),
)


async def rename_note(note_id: int, title: str, session: SessionDep) -> None:
    # Read, then write, in one transaction: what loading an object and changing it does.
    await session.execute(select(notes.c.title).where(notes.c.id == note_id))
    await session.execute(update(notes).where(notes.c.id == note_id).values(title=title))


class Held:
    """A reading request held open inside its transaction until the test lets it go."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def read_and_wait(self, session: SessionDep) -> None:
        await session.execute(select(notes.c.id))
        self.reading.set()
        await self.release.wait()


@pytest.fixture
def held() -> Held:
    return Held()


@pytest.fixture
def app(app: FastAPI, held: Held) -> FastAPI:
    app.add_api_route("/test/rename/{note_id}", rename_note, methods=["POST"])
    app.add_api_route("/test/held", held.read_and_wait, methods=["GET"])
    return app


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(settings)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_concurrent_updates_of_one_row_all_succeed(client: httpx.AsyncClient) -> None:
    created = (await client.post(NOTES, json={"title": "Contended", "body": ""})).json()

    responses = await asyncio.gather(
        *(
            client.post(f"/test/rename/{created['id']}", params={"title": f"Title {n}"})
            for n in range(CONCURRENT_UPDATES)
        )
    )

    assert [response.status_code for response in responses] == [200] * CONCURRENT_UPDATES


async def test_reading_requests_do_not_wait_for_each_other(client: httpx.AsyncClient, held: Held) -> None:
    """A GET's transaction takes no write lock: another GET reads while the first is still open (with IMMEDIATE
    transactions it would wait for the first, and after the connection's timeout answer 503)."""
    reading = asyncio.create_task(client.get("/test/held"))
    try:
        await asyncio.wait_for(held.reading.wait(), timeout=10)
        second = await client.get(NOTES)
    finally:
        held.release.set()
        first = await reading

    assert (first.status_code, second.status_code) == (200, 200)


async def test_child_row_without_its_parent_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(children).values(id=1, parent_id=999))


async def test_child_row_with_its_parent_is_stored(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(parents).values(id=7))
        await connection.execute(insert(children).values(id=1, parent_id=7))

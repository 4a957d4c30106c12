"""A fresh database per test, on SQLite by default or on the PostgreSQL server in TEST_DATABASE_URL.

Every test gets its own database, so tests are isolated from each other and may run in parallel
(``pytest -n auto``): a SQLite file in the test's tmp_path, or a PostgreSQL database created for the test
and dropped after it. Also here: small TCP servers that stand in for a database that is down or hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db.base import Base
from tests.support import notes as support_notes

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"


def server_url() -> str | None:
    """The PostgreSQL server under test (its maintenance database, with the asyncpg driver), or None."""
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    if not configured:
        return None
    url = make_url(configured)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"{TEST_DATABASE_URL_ENV}: expected postgresql+asyncpg://USER@HOST:PORT/postgres")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def postgres_database(maintenance_url: str) -> AsyncIterator[str]:
    """Create an empty database on the server, yield its URL, and drop it (closing its connections) after."""
    name = f"test_{uuid.uuid4().hex}"
    engine = create_async_engine(maintenance_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with engine.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def create_schema(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.run_sync(support_notes.metadata.create_all)
    finally:
        await engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@contextlib.asynccontextmanager
async def fresh_database(directory: Path, name: str = "test") -> AsyncIterator[str]:
    """The URL of a new, empty database, deleted afterwards (on SQLite, a file in ``directory``)."""
    maintenance_url = server_url()
    if maintenance_url is None:
        yield sqlite_url(directory / f"{name}.db")
        return
    async with postgres_database(maintenance_url) as url:
        yield url


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A new database with every table of the models and the tests' notes, deleted after the test."""
    async with fresh_database(tmp_path) as url:
        await create_schema(url)
        yield url


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A new database with no tables (for migrations), deleted after the test."""
    async with fresh_database(tmp_path, "empty") as url:
        yield url


class LoopbackServer:
    """A TCP server on 127.0.0.1 that keeps the connections it accepted, so that ``stop()`` can cut them all.

    ``start()`` after ``stop()`` listens again on the same port.
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class TcpProxy(LoopbackServer):
    """Forwards 127.0.0.1:port to a real server, and can cut it off like a network outage.

    ``stop()`` drops every open connection and refuses new ones; ``start()`` listens again on the same port,
    so a client configured with ``port`` sees the server go away and come back. ``pause()`` keeps every
    connection open but forwards nothing (a server that hangs) until ``resume()``.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__()
        self.target = (target_host, target_port)
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def stop(self) -> None:
        await super().stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


class SilentServer(LoopbackServer):
    """Accepts TCP connections on 127.0.0.1 and never answers: a database or an API that hangs."""

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    server = SilentServer()
    await server.start()
    yield server
    await server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

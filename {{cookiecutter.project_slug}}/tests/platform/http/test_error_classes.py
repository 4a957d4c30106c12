"""Which failures are the client's (409, 4xx), the database's (503) and the service's own bugs (500, reported)."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, String, Table, insert, make_url, select, text

from app.db.base import NAMING_CONVENTION
from app.db.session import SessionDep
from app.schemas.errors import REQUEST_ID_HEADER
from tests.support.db import create_schema, sqlite_url

Events = Callable[[], list[dict[str, Any]]]
THINGS = "/test/things"
SECRET_VALUE = "value-that-stays-private"

metadata = MetaData(naming_convention=NAMING_CONVENTION)
things = Table(
    "test_things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(50), unique=True),
    Column("label", String(50), nullable=False),
    Column("quantity", Integer, CheckConstraint("quantity >= 0", name="quantity_not_negative")),
)


class ThingIn(BaseModel):
    code: str | None = None
    label: str | None = "label"
    quantity: int = 0


async def create_thing(data: ThingIn, session: SessionDep) -> dict[str, str]:
    await session.execute(insert(things).values(**data.model_dump()))
    return {}


async def read_missing_table(session: SessionDep) -> None:
    await session.execute(text("SELECT * FROM test_table_no_migration_created"))


def raising(exc: Exception) -> Callable[..., Any]:
    async def route(session: SessionDep) -> None:
        await session.execute(select(1))  # the database was used: the error is still the service's own
        raise exc

    return route


async def raising_http(code: int) -> None:
    raise HTTPException(status_code=code)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.add_api_route(THINGS, create_thing, methods=["POST"], status_code=201)
    app.add_api_route("/test/missing-table", read_missing_table)
    app.add_api_route("/test/timeout", raising(TimeoutError("the cache took too long")))
    app.add_api_route("/test/connection", raising(ConnectionResetError("the cache hung up")))
    app.add_api_route("/test/http/{code}", raising_http)
    return app


@pytest.fixture
async def client(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    async with app.state.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return client


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def assert_reported_500(response: httpx.Response, events: Events) -> None:
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["error"] == "INTERNAL_ERROR"
    [event] = events()
    assert event["event_id"] == body["event_id"]


async def test_duplicate_value_is_409_and_one_access_line_naming_the_constraint(
    client: httpx.AsyncClient, log_stream: io.StringIO, events: Events
) -> None:
    assert (await client.post(THINGS, json={"code": SECRET_VALUE})).status_code == 201
    log_stream.seek(0)
    log_stream.truncate()

    response = await client.post(THINGS, json={"code": SECRET_VALUE})

    assert response.status_code == 409
    assert response.json()["error"] == "CONFLICT_ERROR"
    [line] = log_lines(log_stream)
    assert (line["logger"], line["status"]) == ("app.access", 409)
    assert line["constraint"] in {"test_things.code", "uq_test_things_code"}  # SQLite names columns
    assert SECRET_VALUE not in log_stream.getvalue() + response.text
    assert events() == []


@pytest.mark.parametrize("thing", [{"label": None}, {"quantity": -1}], ids=["not-null-violation", "check-violation"])
async def test_other_constraint_violation_is_a_reported_500(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO, thing: dict[str, Any]
) -> None:
    response = await client.post(THINGS, json=thing)

    assert_reported_500(response, events)
    assert any(line["event"] == "unexpected error" for line in log_lines(log_stream))


async def test_missing_table_is_a_reported_500_not_an_unavailable_database(
    client: httpx.AsyncClient, events: Events
) -> None:
    assert_reported_500(await client.get("/test/missing-table"), events)


@pytest.mark.parametrize("path", ["/test/timeout", "/test/connection"])
async def test_timeout_or_connection_error_of_the_services_own_code_is_a_reported_500(
    client: httpx.AsyncClient, events: Events, path: str
) -> None:
    assert_reported_500(await client.get(path), events)


class TestSqliteDatabaseIsLocked:
    """SQLite's own lock, on an SQLite file whichever database the rest of the suite runs on."""

    @pytest.fixture
    async def database_url(self, tmp_path: Path) -> str:
        url = sqlite_url(tmp_path / "locked.db")
        await create_schema(url)
        return url

    @pytest.fixture
    def settings(self, make_settings: Callable[..., Any]) -> Any:
        return make_settings(DB_STATEMENT_TIMEOUT=0.05)

    async def test_locked_database_is_503(self, client: httpx.AsyncClient, database_url: str) -> None:
        holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            response = await client.post(THINGS, json={"code": "locked"})
        finally:
            holder.close()

        assert response.status_code == 503
        assert response.json()["error"] == "SERVICE_UNAVAILABLE"


@pytest.mark.parametrize("code", [499, 599])
async def test_status_without_a_standard_phrase_keeps_its_code_and_envelope(
    client: httpx.AsyncClient, events: Events, code: int
) -> None:
    response = await client.get(f"/test/http/{code}")

    assert response.status_code == code
    body = response.json()
    assert (body["error"], body["request_id"]) == (f"HTTP_{code}", response.headers[REQUEST_ID_HEADER])
    assert body["message"]
    assert [event["event_id"] for event in events()] == ([body["event_id"]] if code >= 500 else [])

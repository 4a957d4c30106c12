"""A failing TaskGroup: one event that keeps every sub-exception, tied to its request."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Events


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    async def fetch(source: str) -> None:
        raise RuntimeError(f"source {source} is down")

    @app.get("/dashboard")
    async def dashboard() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(fetch("orders"))
            group.create_task(fetch("invoices"))

    return app


async def test_a_failing_task_group_is_one_event_with_every_sub_exception(
    client: httpx.AsyncClient, events: Events
) -> None:
    response = await client.get("/dashboard", headers={"X-Request-ID": "dash-1"})

    assert response.status_code == 500
    (event,) = events()
    assert event["tags"]["request_id"] == "dash-1"
    assert event["transaction"] == "/dashboard"
    values = [value["value"] for value in event["exception"]["values"]]
    assert "source orders is down" in values
    assert "source invoices is down" in values

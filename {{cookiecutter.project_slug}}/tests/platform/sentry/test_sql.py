"""SQL statements as Sentry breadcrumbs, never with their parameters (spans inside a sampled transaction)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text

from app.core.config import Settings
from tests.conftest import MakeSettings
from tests.support.sentry import FAKE_DSN, CapturingTransport

PARAMETER_PARTS = ("parameter", "value", "never", "recorded")


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/query-then-fail")
    async def query_then_fail(request: Request) -> None:
        async with request.app.state.engine.connect() as connection:
            # Built at run time, so the value is not in the source lines the event carries either.
            await connection.execute(text("SELECT :marker"), {"marker": "-".join(PARAMETER_PARTS)})
        raise RuntimeError("failed after a query")

    return app


async def test_sql_statements_are_breadcrumbs_without_parameters(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    await client.get("/query-then-fail")
    (event,) = sentry_transport.events
    queries = [crumb for crumb in event["breadcrumbs"]["values"] if crumb["category"] == "query"]
    assert any("SELECT" in crumb["message"] for crumb in queries)
    assert "-".join(PARAMETER_PARTS) not in repr(event)

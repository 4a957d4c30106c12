"""Which errors reach Sentry: one event per server error, none for client errors (behaviours 2 and 3)."""

from __future__ import annotations

import logging

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.exceptions import ConflictError, ExternalServiceError, NotFoundError, ServiceUnavailableError
from app.main import create_app
from tests.conftest import Events, MakeSettings, open_client


class QueryCanceled(Exception):  # noqa: N818  (named like the driver's error)
    """What asyncpg raises when PostgreSQL cancels a statement at its statement_timeout."""

    sqlstate = "57014"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> None:
        raise RuntimeError(f"order {order_id} exploded")

    @app.get("/upstream")
    async def upstream() -> None:
        raise ExternalServiceError("billing timed out", service_name="billing")

    @app.get("/missing")
    async def missing() -> None:
        raise NotFoundError()

    @app.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("taken")

    @app.get("/health/deep")
    async def failing_probe() -> None:
        raise ServiceUnavailableError("database unreachable")

    @app.get("/statement-timeout")
    async def statement_timeout() -> None:
        raise DBAPIError("SELECT pg_sleep(60)", None, QueryCanceled("canceling statement due to statement timeout"))

    @app.get("/bad-sql")
    async def bad_sql() -> None:
        raise ProgrammingError("SELECT nope", None, Exception('column "nope" does not exist'))

    @app.get("/logs-only")
    async def logs_only() -> dict[str, str]:
        structlog.get_logger("app.test").error("something odd", detail="x")
        logging.getLogger("app.stdlib").error("stdlib error line")
        return {"status": "ok"}

    return app


@pytest.mark.parametrize("path", ["/sentry-debug", "/orders/7", "/upstream"])
async def test_server_error_sends_exactly_one_event_with_response_event_id(
    client: httpx.AsyncClient, events: Events, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code >= 500
    captured = events()
    assert len(captured) == 1
    assert captured[0]["event_id"] == response.json()["event_id"]


@pytest.mark.parametrize("path", ["/missing", "/conflict", "/no/such/route", "/health/live"])
async def test_client_errors_and_health_checks_send_no_event(
    client: httpx.AsyncClient, events: Events, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code < 500
    assert "event_id" not in response.json()
    assert events() == []


async def test_wrong_method_and_validation_error_send_no_event(client: httpx.AsyncClient, events: Events) -> None:
    assert (await client.post("/health/live")).status_code == 405
    assert (await client.get("/orders/not-a-number")).status_code == 422
    assert events() == []


async def test_failing_health_probe_answers_503_without_an_event(client: httpx.AsyncClient, events: Events) -> None:
    response = await client.get("/health/deep")
    assert response.status_code == 503
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"
    assert events() == []


async def test_statement_timeout_is_503_and_reported(client: httpx.AsyncClient, events: Events) -> None:
    response = await client.get("/statement-timeout")
    assert response.status_code == 503
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"
    assert [event["event_id"] for event in events()] == [response.json()["event_id"]]


async def test_bad_sql_is_a_500_not_an_outage(client: httpx.AsyncClient, events: Events) -> None:
    response = await client.get("/bad-sql")
    assert response.status_code == 500
    assert "nope" not in response.text
    assert [event["event_id"] for event in events()] == [response.json()["event_id"]]


async def test_log_lines_alone_send_no_event(client: httpx.AsyncClient, events: Events) -> None:
    assert (await client.get("/logs-only")).status_code == 200
    assert events() == []


async def test_without_dsn_nothing_is_sent_and_errors_still_answer(make_settings: MakeSettings) -> None:
    settings = make_settings(SENTRY_DSN=None, ENABLE_DEBUG_ROUTES=True)
    app = create_app(settings)
    assert not sentry_sdk.get_client().is_active()
    async for client in open_client(app):
        response = await client.get("/sentry-debug")
        assert response.status_code == 500
        assert response.json()["error"] == "INTERNAL_ERROR"
        assert "event_id" not in response.json()

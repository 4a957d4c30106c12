"""What reaches Sentry: one event per server error, none for client errors (behaviours 2, 3 and 8)."""

from __future__ import annotations

import asyncio
import logging
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import Depends, FastAPI
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.core import sentry
from app.core.config import Settings
from app.core.sentry import set_request_user
from app.exceptions import ConflictError, ExternalServiceError, NotFoundError, ServiceUnavailableError
from app.main import create_app
from tests.conftest import CapturingTransport, MakeSettings, open_client, reset_sentry

Events = Callable[[], list[dict[str, Any]]]

FULL_QUEUE_REQUESTS = 110  # more than the SDK's queue of 100: the first send hangs, the rest queue, then overflow
# Building an event takes milliseconds; a request that waited on a Sentry that never answers would take seconds.
REQUEST_LIMIT_SECONDS = 1.0
MEDIAN_LIMIT_SECONDS = 0.05


class QueryCanceled(Exception):  # noqa: N818  (named like the driver's error)
    """What asyncpg raises when PostgreSQL cancels a statement at its statement_timeout."""

    sqlstate = "57014"


def current_user_dependency(settings: Settings) -> Callable[[], None]:
    def current_user() -> None:
        set_request_user(42, email="ada@example.com", settings=settings)

    return current_user


@pytest.fixture
def app(app: FastAPI, settings: Settings) -> FastAPI:
    @app.get("/orders/{order_id}", dependencies=[Depends(current_user_dependency(settings))])
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


async def test_event_carries_environment_release_request_id_and_route(
    client: httpx.AsyncClient, events: Events, settings: Settings
) -> None:
    response = await client.get("/orders/7")
    (event,) = events()
    assert event["environment"] == "staging"
    assert event["release"] == settings.SENTRY_RELEASE
    assert event["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert event["transaction"] == "/orders/{order_id}"
    assert event["request"]["method"] == "GET"
    assert event["exception"]["values"][-1]["stacktrace"]["frames"]


async def test_event_carries_user_id_but_not_email_by_default(client: httpx.AsyncClient, events: Events) -> None:
    await client.get("/orders/7")
    (event,) = events()
    assert event["user"] == {"id": "42"}


async def test_user_email_is_sent_only_when_settings_opt_in(make_settings: MakeSettings) -> None:
    settings = make_settings(SENTRY_DSN="https://public@sentry.invalid/1", SENTRY_SEND_USER_EMAIL=True)
    transport = CapturingTransport()
    app = create_app(settings, sentry_transport=transport)

    @app.get("/boom", dependencies=[Depends(current_user_dependency(settings))])
    async def boom() -> None:
        raise RuntimeError("boom")

    try:
        async for client in open_client(app):
            await client.get("/boom")
        sentry_sdk.flush()
        (event,) = transport.events
        assert event["user"] == {"id": "42", "email": "ada@example.com"}
    finally:
        reset_sentry()


async def test_user_of_one_request_does_not_leak_into_the_next(client: httpx.AsyncClient, events: Events) -> None:
    await client.get("/orders/7")
    await client.get("/sentry-debug")
    first, second = events()
    assert first["user"] == {"id": "42"}
    assert "user" not in second or not second["user"]


async def test_without_dsn_nothing_is_sent_and_errors_still_answer(make_settings: MakeSettings) -> None:
    settings = make_settings(SENTRY_DSN=None, ENABLE_DEBUG_ROUTES=True)
    app = create_app(settings)
    assert not sentry_sdk.get_client().is_active()
    async for client in open_client(app):
        response = await client.get("/sentry-debug")
        assert response.status_code == 500
        assert response.json()["error"] == "INTERNAL_ERROR"
        assert "event_id" not in response.json()


async def test_event_frames_carry_source_context(client: httpx.AsyncClient, events: Events) -> None:
    await client.get("/sentry-debug")
    (event,) = events()
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    (raising,) = [frame for frame in frames if frame.get("function") == "sentry_debug"]
    assert "1 / 0" in raising["context_line"]
    assert raising["pre_context"]
    assert raising["in_app"] is True


async def test_error_storm_sends_a_burst_then_counts_what_it_skips(
    client: httpx.AsyncClient, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = sentry.repeated_errors
    responses = [await client.get("/sentry-debug") for _ in range(limiter.burst + 5)]
    assert all(response.status_code == 500 for response in responses)
    with_event = [response.json()["event_id"] for response in responses if "event_id" in response.json()]
    assert len(with_event) == limiter.burst
    assert [event["event_id"] for event in events()] == with_event

    # Once the bucket refills, the next event says how many were skipped meanwhile.
    monkeypatch.setattr(limiter, "every", 0.0001)
    response = await client.get("/sentry-debug")
    sent = events()[-1]
    assert sent["event_id"] == response.json()["event_id"]
    assert sent["extra"]["similar_errors_skipped"] == 5


async def test_different_errors_are_limited_separately(client: httpx.AsyncClient, events: Events) -> None:
    for _ in range(sentry.repeated_errors.burst):
        await client.get("/sentry-debug")
    response = await client.get("/orders/1")
    assert "event_id" in response.json()
    assert len(events()) == sentry.repeated_errors.burst + 1


async def test_full_transport_queue_never_blocks_or_breaks_a_request(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sentry accepts connections and never answers: the SDK's queue fills and overflows; requests carry on.

    Each failing request costs the building of its event (milliseconds), never a wait on the network: a request
    that waited for the transport (a flush, a blocking put into the full queue) would take seconds.
    """
    with socket.create_server(("127.0.0.1", 0)) as black_hole:  # listens, never accepts, never answers
        port = black_hole.getsockname()[1]
        settings = make_settings(SENTRY_DSN=f"http://public@127.0.0.1:{port}/1", ENABLE_DEBUG_ROUTES=True)
        app = create_app(settings)
        monkeypatch.setattr(sentry.repeated_errors, "burst", 10_000)  # every error goes to the transport
        try:
            async for client in open_client(app):
                durations = []
                for _ in range(FULL_QUEUE_REQUESTS):
                    began = time.perf_counter()
                    response = await asyncio.wait_for(client.get("/sentry-debug"), timeout=REQUEST_LIMIT_SECONDS)
                    durations.append(time.perf_counter() - began)
                    # Checked at once: a handler that blocks the event loop cannot be cut short by wait_for.
                    assert durations[-1] < REQUEST_LIMIT_SECONDS, f"request {len(durations)} took {durations[-1]} s"
                    assert response.status_code == 500
                    assert response.json()["error"] == "INTERNAL_ERROR"
                assert (await client.get("/health/live")).status_code == 200
                assert statistics.median(durations) < MEDIAN_LIMIT_SECONDS, sorted(durations)[-10:]
        finally:
            sentry_sdk.get_client().close(timeout=0.1)
            reset_sentry()

"""What an event tells the person on call: handled or not, the status and error code the client got, the details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.exceptions import AppException, ExternalServiceError
from tests.conftest import Events
from tests.support.sentry import CapturingTransport

API_KEY = "not-a-real-key-7f3c2a9e"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/app-500")
    async def app_500() -> None:
        raise AppException("ledger out of balance")

    @app.get("/upstream")
    async def upstream() -> None:
        raise ExternalServiceError("billing timed out", service_name="billing", details={"api_key": API_KEY})

    @app.get("/bad-gateway")
    async def bad_gateway() -> None:
        raise HTTPException(status_code=502)

    @app.get("/database-down")
    async def database_down() -> None:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("connection refused"))

    @app.get("/bad-sql")
    async def bad_sql() -> None:
        raise ProgrammingError("SELECT nope", None, Exception('column "nope" does not exist'))

    return app


def mechanism(event: dict[str, Any]) -> dict[str, Any]:
    """The mechanism of the exception the handler caught (Sentry lists a chain's exceptions last one last)."""
    mechanism: dict[str, Any] = event["exception"]["values"][-1]["mechanism"]
    return mechanism


@pytest.mark.parametrize("path", ["/sentry-debug", "/bad-sql"])
async def test_unexpected_error_is_sent_as_unhandled(client: httpx.AsyncClient, events: Events, path: str) -> None:
    assert (await client.get(path)).status_code == 500
    (event,) = events()
    assert mechanism(event)["handled"] is False


@pytest.mark.parametrize("path", ["/app-500", "/upstream", "/bad-gateway", "/database-down"])
async def test_deliberate_server_error_is_sent_as_handled(client: httpx.AsyncClient, events: Events, path: str) -> None:
    assert (await client.get(path)).status_code >= 500
    (event,) = events()
    assert mechanism(event)["handled"] is True


@pytest.mark.parametrize(
    ("path", "status_code", "error_code"),
    [
        ("/sentry-debug", 500, "INTERNAL_ERROR"),
        ("/bad-sql", 500, "INTERNAL_ERROR"),
        ("/app-500", 500, "INTERNAL_ERROR"),
        ("/upstream", 503, "EXTERNAL_SERVICE_ERROR"),
        ("/bad-gateway", 502, "HTTP_502"),
        ("/database-down", 503, "SERVICE_UNAVAILABLE"),
    ],
)
async def test_event_is_tagged_with_the_status_and_error_code_the_client_got(
    client: httpx.AsyncClient, events: Events, path: str, status_code: int, error_code: str
) -> None:
    response = await client.get(path)
    assert (response.status_code, response.json()["error"]) == (status_code, error_code)
    (event,) = events()
    assert event["tags"]["http.status_code"] == str(status_code)
    assert event["tags"]["error_code"] == error_code


async def test_exception_details_are_a_context_through_the_redaction_policy(
    client: httpx.AsyncClient, events: Events, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get("/upstream")).status_code == 503
    (event,) = events()
    assert event["contexts"]["error_details"] == {"api_key": "[Filtered]", "service": "billing"}
    assert API_KEY not in sentry_transport.everything_sent()


async def test_error_without_details_sends_no_details_context(client: httpx.AsyncClient, events: Events) -> None:
    assert (await client.get("/app-500")).status_code == 500
    (event,) = events()
    assert "error_details" not in event["contexts"]

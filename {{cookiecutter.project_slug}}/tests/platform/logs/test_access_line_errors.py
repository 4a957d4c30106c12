"""The access line of a failed request carries the envelope's error code, for server errors as for client errors."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy.exc import OperationalError

from app.core.config import Settings
from app.exceptions import ExternalServiceError, ServiceUnavailableError
from tests.conftest import MakeSettings
from tests.support.db import closed_port


def access_line(stream: io.StringIO) -> dict[str, Any]:
    [line] = [json.loads(line) for line in stream.getvalue().splitlines() if '"logger":"app.access"' in line]
    return dict(line)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/fails/upstream")
    async def upstream() -> None:
        raise ExternalServiceError(service_name="billing")

    @app.get("/fails/unavailable")
    async def unavailable() -> None:
        raise ServiceUnavailableError

    @app.get("/fails/bad-gateway")
    async def bad_gateway() -> None:
        raise HTTPException(status_code=502)

    @app.get("/fails/database")
    async def database() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    return app


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/sentry-debug", 500, "INTERNAL_ERROR"),
        ("/fails/upstream", 503, "EXTERNAL_SERVICE_ERROR"),
        ("/fails/unavailable", 503, "SERVICE_UNAVAILABLE"),
        ("/fails/bad-gateway", 502, "HTTP_502"),
        ("/fails/database", 503, "SERVICE_UNAVAILABLE"),
        ("/api/v1/notes/404", 404, "NOT_FOUND"),
    ],
)
async def test_access_line_of_a_failed_request_names_its_error_code(
    client: httpx.AsyncClient, log_stream: io.StringIO, path: str, status: int, error: str
) -> None:
    response = await client.get(path)

    assert (response.status_code, response.json()["error"]) == (status, error)
    line = access_line(log_stream)
    assert (line["status"], line["error"]) == (status, error)


class TestDatabaseAway:
    @pytest.fixture
    def settings(self, make_settings: MakeSettings) -> Settings:
        return make_settings(DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{closed_port()}/app")

    @pytest.mark.parametrize("path", ["/api/v1/notes", "/health/ready"])
    async def test_access_line_of_a_503_names_service_unavailable(
        self, client: httpx.AsyncClient, log_stream: io.StringIO, path: str
    ) -> None:
        response = await client.get(path)

        assert response.status_code == 503
        assert access_line(log_stream)["error"] == "SERVICE_UNAVAILABLE"

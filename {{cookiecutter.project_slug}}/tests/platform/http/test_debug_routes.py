"""/sentry-debug exists outside production, and in production only when enabled (behaviour 7)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.main import create_app
from app.schemas.errors import REQUEST_ID_HEADER
from tests.conftest import MakeSettings, open_client

POSTGRES_URL = "postgresql+asyncpg://app:app@127.0.0.1:5432/app"


def has_debug_route(app: FastAPI) -> bool:
    return "/sentry-debug" in app.openapi()["paths"]


@pytest.mark.parametrize("environment", ["development", "staging"])
def test_debug_route_is_mounted_outside_production(make_settings: MakeSettings, environment: str) -> None:
    assert has_debug_route(create_app(make_settings(ENVIRONMENT=environment)))


def test_debug_route_is_absent_in_production(make_settings: MakeSettings) -> None:
    app = create_app(make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL))
    assert not has_debug_route(app)


async def test_production_answers_the_debug_route_with_the_404_envelope(make_settings: MakeSettings) -> None:
    app = create_app(make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL))
    async for client in open_client(app):
        response = await client.get("/sentry-debug")
        assert response.status_code == 404
        assert response.json() == {
            "error": "NOT_FOUND",
            "message": "Not Found",
            "details": {},
            "request_id": response.headers[REQUEST_ID_HEADER],
        }


def test_debug_route_can_be_enabled_in_production(make_settings: MakeSettings) -> None:
    settings = make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL, ENABLE_DEBUG_ROUTES=True)
    assert has_debug_route(create_app(settings))

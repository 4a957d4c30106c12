"""ENABLE_DOCS removes /docs, /redoc and /openapi.json together; production has them off unless it says otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.config import Settings
from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app

# Production refuses SQLite; nothing here reaches the database.
POSTGRES_URL = "postgresql+asyncpg://app:app@127.0.0.1:5432/app"
DOCS_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/docs/assets/redoc/redoc.standalone.js")


@pytest.fixture
async def production_client(make_settings: MakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_test_app(make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL))
    async for client in open_client(app):
        yield client


@pytest.mark.parametrize("environment", ["development", "staging"])
def test_docs_are_on_by_default_outside_production(environment: str) -> None:
    assert Settings(_env_file=None, ENVIRONMENT=environment).docs_enabled


def test_docs_are_off_by_default_in_production(make_settings: MakeSettings) -> None:
    assert not make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL).docs_enabled


@pytest.mark.parametrize("path", DOCS_PATHS)
async def test_production_serves_no_docs(production_client: httpx.AsyncClient, path: str) -> None:
    response = await production_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_a_wrong_method_on_a_removed_docs_path_is_not_found(
    production_client: httpx.AsyncClient, path: str
) -> None:
    """The 405's Allow table is read from the routes: with the docs gone, nothing is allowed there."""
    response = await production_client.post(path)
    assert response.status_code == 404
    assert "allow" not in response.headers


async def test_enable_docs_turns_them_on_in_production(make_settings: MakeSettings) -> None:
    app = create_test_app(make_settings(ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL, ENABLE_DOCS=True))
    async for client in open_client(app):
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 200, path


async def test_enable_docs_false_turns_them_off_elsewhere(make_settings: MakeSettings) -> None:
    app = create_test_app(make_settings(ENVIRONMENT="staging", ENABLE_DOCS=False))
    async for client in open_client(app):
        for path in DOCS_PATHS:
            assert (await client.get(path)).status_code == 404, path


def test_an_empty_enable_docs_means_unset() -> None:
    settings = Settings(_env_file=None, ENVIRONMENT="production", DATABASE_URL=POSTGRES_URL, ENABLE_DOCS="")
    assert not settings.docs_enabled

"""Fixtures both halves of the suite use: settings, an app with its lifespan, a client, captured Sentry events."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.main import create_app
from tests.support.db import database_url, silent_server
{%- if cookiecutter.include_worker == "yes" and cookiecutter.include_examples == "yes" %}
from tests.support.jobs import job_upstream
{%- endif %}
from tests.support.sentry import FAKE_DSN, TRACE_LIFECYCLE, CapturingTransport, reset_sentry
{%- if cookiecutter.include_worker == "yes" and cookiecutter.include_examples == "yes" %}

__all__ = ["database_url", "job_upstream", "silent_server"]
{%- else %}

__all__ = ["database_url", "silent_server"]
{%- endif %}


@pytest.fixture(scope="session", autouse=True)
def _no_service_variables() -> Iterator[None]:
    """The suite reads none of the service's variables a shell or CI runner exported (``ENVIRONMENT=production``,
    a real ``DATABASE_URL``): every test starts from the settings it gives itself. Settings ignore case, so do we;
    the SDK reads ``SENTRY_*`` variables of its own."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper() in Settings.model_fields or name.upper().startswith("SENTRY_"):
                patch.delenv(name)
{%- if cookiecutter.include_worker == "yes" %}
        # Staging and production refuse memory://, so the settings the suite builds name a Redis broker; its jobs
        # run in process all the same, on the broker chosen at import (tests/__init__.py).
        patch.setenv("BROKER_URL", "redis://127.0.0.1:6379/0")
{%- endif %}
        yield


MakeSettings = Callable[..., Settings]
# What the ``events`` fixture gives: call it to flush the SDK and read the error events captured so far.
Events = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def make_settings(database_url: str) -> MakeSettings:
    """Settings for a test: no env files, the test database, Sentry off unless a test turns it on, traces in the
    lifecycle the suite runs in (``TEST_SENTRY_TRACE_LIFECYCLE``)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "ENVIRONMENT": "staging",
            "DATABASE_URL": database_url,
            "SENTRY_DSN": None,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "SENTRY_TRACE_LIFECYCLE": TRACE_LIFECYCLE,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def sentry_transport() -> Iterator[CapturingTransport]:
    """A transport that keeps events in memory; the SDK is shut down after the test."""
    transport = CapturingTransport()
    yield transport
    reset_sentry()


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, ENABLE_DEBUG_ROUTES=True)


@pytest.fixture
def app(settings: Settings, sentry_transport: CapturingTransport) -> FastAPI:
    """The service as ``create_app`` builds it, capturing its events (the platform's tests add their notes)."""
    return create_app(settings, sentry_transport=sentry_transport)


async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the ASGI app with its lifespan running; server errors become responses."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in open_client(app):
        yield client


def capture_service_log() -> io.StringIO:
    """Everything the service logs from here on, exactly as its handler renders it (logging configured first)."""
    stream = io.StringIO()
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "app")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


@pytest.fixture
def log_stream(app: FastAPI) -> io.StringIO:
    """Everything the app's service logs from here on."""
    return capture_service_log()


@pytest.fixture
def events(sentry_transport: CapturingTransport) -> Events:
    """Flushes the SDK and returns the error events captured so far."""

    def read() -> list[dict[str, Any]]:
        sentry_sdk.flush()
        return sentry_transport.events

    return read


@pytest.fixture
async def failing_engine_dispose(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Once the app is built, every engine's dispose fails, as when the database went away first; the pools are
    closed for real after the test, so that no connection the start-up check opened outlives it."""
    real_dispose = AsyncEngine.dispose
    engines: list[AsyncEngine] = []

    async def failing_dispose(engine: AsyncEngine, close: bool = True) -> None:
        engines.append(engine)
        raise OSError("the database went away first")

    monkeypatch.setattr(AsyncEngine, "dispose", failing_dispose)
    yield
    monkeypatch.undo()  # the database fixtures' own teardown disposes engines too
    for engine in engines:
        await real_dispose(engine)

"""Fixtures for the service's own tests: settings, an app with its lifespan, a client, captured Sentry events."""

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
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.main import create_app
from tests import support_notes
from tests.support_db import database_url, silent_server
{%- if cookiecutter.include_worker == "yes" %}
{%- if cookiecutter.include_examples == "yes" %}
from tests.support_jobs import job_upstream, mount_test_jobs

__all__ = ["database_url", "job_upstream", "silent_server"]
{%- else %}
from tests.support_jobs import mount_test_jobs

__all__ = ["database_url", "silent_server"]
{%- endif %}
{%- else %}

__all__ = ["database_url", "silent_server"]
{%- endif %}

FAKE_DSN = "https://public@sentry.invalid/1"


class CapturingTransport(Transport):
    """Keeps every envelope the SDK would send, in process: no network, nothing dropped."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, item_type: str) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == item_type and item.payload.json is not None
        ]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Error and message events (not transactions)."""
        return self.items("event")

    @property
    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")

    def everything_sent(self) -> str:
        """Every envelope the SDK has sent so far (flushed first), as the text that would go over the wire."""
        sentry_sdk.flush()
        return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in self.envelopes)


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


def reset_sentry() -> None:
    """Close the SDK's client and leave a non-recording one, so later tests send nothing."""
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def create_test_app(settings: Settings, *, sentry_transport: Transport | None = None) -> FastAPI:
    """The service as ``create_app`` builds it, with the tests' own notes resource mounted."""
    app = create_app(settings, sentry_transport=sentry_transport)
    support_notes.mount(app)
{%- if cookiecutter.include_worker == "yes" %}
    mount_test_jobs(app)
{%- endif %}
    return app


@pytest.fixture
def make_settings(database_url: str) -> MakeSettings:
    """Settings for a test: no env files, the test database, Sentry off unless a test turns it on."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "ENVIRONMENT": "staging",
            "DATABASE_URL": database_url,
            "SENTRY_DSN": None,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
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
    return create_test_app(settings, sentry_transport=sentry_transport)


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

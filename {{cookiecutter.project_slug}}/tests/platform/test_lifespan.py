"""The lifespan: start-up is kept out of the garbage collector's scans; every step of shutdown runs."""

from __future__ import annotations

import gc
import io
from typing import Any

import pytest
import sentry_sdk
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

{% if cookiecutter.include_examples == "yes" -%}
from app.clients.external_api import ExternalAPIClient
{% endif -%}
from tests.support.units import log_lines


async def test_startup_objects_are_frozen_while_serving_and_released_at_shutdown(app: FastAPI) -> None:
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        # Everything start-up built, the app and its routes among them: far more than a handful of objects.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


@pytest.fixture
def shutdown_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which shutdown steps ran, in order: the engine's dispose (still done) and Sentry's flush."""
    calls: list[str] = []
    dispose = AsyncEngine.dispose

    async def recorded_dispose(engine: AsyncEngine, close: bool = True) -> None:
        calls.append("engine disposed")
        await dispose(engine, close)

    def recorded_flush(*args: Any, **kwargs: Any) -> None:
        calls.append("sentry flushed")

    monkeypatch.setattr(AsyncEngine, "dispose", recorded_dispose)
    monkeypatch.setattr(sentry_sdk, "flush", recorded_flush)
    return calls


def failed_steps(stream: io.StringIO) -> list[str]:
    return [line["step"] for line in log_lines(stream) if line["event"] == "shutdown step failed"]


async def test_a_failing_engine_dispose_still_flushes_sentry_and_is_logged(
    app: FastAPI, log_stream: io.StringIO, shutdown_calls: list[str], failing_engine_dispose: None
) -> None:
    # failing_engine_dispose comes after shutdown_calls: its dispose replaces the recording one.
    async with app.router.lifespan_context(app):
        pass

    assert shutdown_calls == ["sentry flushed"]
    assert failed_steps(log_stream) == ["database engine"]
{%- if cookiecutter.include_examples == "yes" %}


async def test_a_failing_client_close_still_disposes_the_engine_and_flushes_sentry(
    app: FastAPI, log_stream: io.StringIO, shutdown_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_close(client: ExternalAPIClient) -> None:
        await client.http.aclose()
        raise RuntimeError("the upstream's connection pool would not close")

    monkeypatch.setattr(ExternalAPIClient, "aclose", failing_close)

    async with app.router.lifespan_context(app):
        pass

    assert shutdown_calls == ["engine disposed", "sentry flushed"]
    assert failed_steps(log_stream) == ["external API client"]
{%- endif %}

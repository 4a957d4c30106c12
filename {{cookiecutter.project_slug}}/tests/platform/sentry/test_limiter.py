"""The repeated-error limiter: a burst per error, then counts; one error is its type and the service's line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.core import sentry
from app.core._sentry.limiter import RepeatedErrorLimiter
from tests.conftest import Events

# The tests' routes stand in for the service's own code: the limiter looks for frames under this folder.
TESTS_DIR = f"{Path(__file__).parent}{os.sep}"


def parse(text: str) -> object:
    """A helper outside the routes, as a library function is: every error it raises comes from one line."""
    return json.loads(text)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    # A second kind of error, next to the ZeroDivisionError of /sentry-debug.
    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> None:
        raise RuntimeError(f"order {order_id} exploded")

    # Two bugs on two routes, both raised by the same line of the json library.
    @app.get("/invoices")
    async def invoices() -> None:
        json.loads("not json")

    @app.get("/refunds")
    async def refunds() -> None:
        json.loads("not json either")

    return app


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


async def test_library_raised_errors_of_two_routes_are_limited_separately(
    client: httpx.AsyncClient, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storm of one route's bug raised inside a library leaves room for another route's bug raised there too."""
    monkeypatch.setattr(sentry.repeated_errors, "in_app_dir", TESTS_DIR)
    for _ in range(sentry.repeated_errors.burst + 5):
        assert (await client.get("/invoices")).status_code == 500
    response = await client.get("/refunds")
    assert response.status_code == 500
    assert "event_id" in response.json()
    assert events()[-1]["event_id"] == response.json()["event_id"]


def raised_by(text: str) -> BaseException:
    try:
        parse(text)
    except ValueError as exc:
        return exc
    raise AssertionError("parse did not raise")


def test_one_error_is_keyed_by_the_innermost_line_of_the_service_code() -> None:
    limiter = RepeatedErrorLimiter(in_app_dir=TESTS_DIR)
    key = limiter.key(raised_by("{"))
    assert key[1] == __file__
    assert key == limiter.key(raised_by("["))  # the same line of ours, whatever the input


def test_without_a_frame_of_the_service_the_innermost_frame_is_the_key() -> None:
    limiter = RepeatedErrorLimiter(in_app_dir=f"{Path(__file__).parent / 'nowhere'}{os.sep}")
    key = limiter.key(raised_by("{"))
    assert key[0] == "JSONDecodeError"
    assert key[1].endswith(f"json{os.sep}decoder.py")


def test_an_exception_never_raised_has_a_key_of_its_type_alone() -> None:
    assert RepeatedErrorLimiter().key(RuntimeError("built, not raised")) == ("RuntimeError", "", 0)

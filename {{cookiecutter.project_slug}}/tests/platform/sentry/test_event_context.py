"""What a Sentry event carries: environment, release, request id, route, user and source lines (behaviour 8)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import Depends, FastAPI

from app.core.config import Settings
from app.core.sentry import set_request_user
from app.main import create_app
from tests.conftest import Events, MakeSettings, open_client
from tests.support.sentry import CapturingTransport, reset_sentry


def current_user_dependency(settings: Settings) -> Callable[[], None]:
    def current_user() -> None:
        set_request_user(42, email="ada@example.com", settings=settings)

    return current_user


@pytest.fixture
def app(app: FastAPI, settings: Settings) -> FastAPI:
    @app.get("/orders/{order_id}", dependencies=[Depends(current_user_dependency(settings))])
    async def get_order(order_id: int) -> None:
        raise RuntimeError(f"order {order_id} exploded")

    return app


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


async def test_event_frames_carry_source_context(client: httpx.AsyncClient, events: Events) -> None:
    await client.get("/sentry-debug")
    (event,) = events()
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    (raising,) = [frame for frame in frames if frame.get("function") == "sentry_debug"]
    assert "1 / 0" in raising["context_line"]
    assert raising["pre_context"]
    assert raising["in_app"] is True


async def test_event_url_keeps_the_services_own_address_as_sentrys_server_does(
    client: httpx.AsyncClient, events: Events
) -> None:
    await client.get("/orders/7", headers={"Host": "10.1.2.3:8200"})
    (event,) = events()
    assert event["request"]["url"] == "http://10.1.2.3:8200/orders/7"
    # Sentry's server replaces addresses in headers; the service does the same before the event leaves.
    assert event["request"]["headers"]["host"] == "[ip]:8200"


async def test_breadcrumbs_leave_out_the_lines_ids_and_uvicorns_colour_codes(app: FastAPI, events: Events) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r-1", trace_id="a" * 32, span_id="b" * 16):
        structlog.get_logger("app.test").info("batch done", rows=3)
    coloured = "Started server process [\x1b[36m%d\x1b[0m]"
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42, extra={"color_message": coloured})
    sentry_sdk.capture_message("after the lines")
    (event,) = events()
    crumbs = {crumb.get("message"): crumb for crumb in event["breadcrumbs"]["values"]}
    assert crumbs["batch done"]["data"] == {"rows": 3}
    assert "Started server process [42]" in crumbs
    data_keys = {key for crumb in crumbs.values() for key in crumb.get("data", {})}
    assert not data_keys & {"request_id", "trace_id", "span_id", "color_message"}
    texts = [str(crumb.get("message")) for crumb in crumbs.values()]
    texts += [str(value) for crumb in crumbs.values() for value in crumb.get("data", {}).values()]
    assert not [text for text in texts if "\x1b" in text]

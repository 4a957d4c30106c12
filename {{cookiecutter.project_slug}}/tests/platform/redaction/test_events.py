"""End to end: no secret of a request, a SQL query, a stack frame or the settings leaves the process (behaviour 4)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI, Request
from sqlalchemy import text

from app.core.config import Settings
from app.main import create_app
from tests.conftest import MakeSettings, open_client
from tests.support.sentry import FAKE_DSN, CapturingTransport, reset_sentry

SECRETS = {
    "authorization": "Bearer sk-live-authorization-1111",
    "cookie": "cookie-session-2222",
    "x_api_key": "api-key-header-3333",
    "x_auth_token": "auth-token-header-4444",
    "proxy_authorization": "proxy-secret-5555",
    "query_token": "query-token-6666",
    "query_api_key": "query-api-key-7777",
    "query_password": "query-password-8888",
    "body_password": "body-password-9999",
    "body_new_password": "body-new-password-1010",
    "body_client_secret": "body-client-secret-1212",
    "body_refresh_token": "body-refresh-token-1313",
    "card_number": "4111 1111 1111 1111",
    "frame_local": "frame-local-token-1414",
    "sql_parameter": "sql-parameter-1515",
}


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    # Locals and full tracing on: the most that could leak.
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_INCLUDE_LOCALS=True, SENTRY_TRACES_SAMPLE_RATE=1.0)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:

    @app.post("/checkout")
    async def checkout(request: Request) -> None:
        payload = await request.json()
        api_token = SECRETS["frame_local"]
        raise RuntimeError(f"checkout failed for {len(payload)} fields ({len(api_token)})")

    @app.get("/query-with-secret")
    async def query_with_secret(request: Request) -> None:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(
                text("SELECT no_such_column WHERE 1 = :value"), {"value": SECRETS["sql_parameter"]}
            )

    return app


async def test_secrets_in_request_never_reach_sentry_or_logs(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    response = await client.post(
        "/checkout",
        params={
            "token": SECRETS["query_token"],
            "api_key": SECRETS["query_api_key"],
            "password": SECRETS["query_password"],
            "page": "2",
        },
        headers={
            "Authorization": SECRETS["authorization"],
            "Cookie": f"session={SECRETS['cookie']}",
            "X-Api-Key": SECRETS["x_api_key"],
            "X-Auth-Token": SECRETS["x_auth_token"],
            "Proxy-Authorization": SECRETS["proxy_authorization"],
        },
        json={
            "user": {"password": SECRETS["body_password"], "profile": {"new_password": SECRETS["body_new_password"]}},
            "client_secret": SECRETS["body_client_secret"],
            "refresh_token": SECRETS["body_refresh_token"],
            "payment": {"card_number": SECRETS["card_number"], "note": f"card {SECRETS['card_number']}"},
        },
    )
    assert response.status_code == 500
    sent = sentry_transport.everything_sent()
    assert sentry_transport.events, "the error must still be reported"
    assert sentry_transport.traced(), "the request must still be traced"
    logs = log_stream.getvalue()
    for name, secret in SECRETS.items():
        if name == "sql_parameter":
            continue
        assert secret not in sent, f"{name} reached Sentry"
        assert secret not in logs, f"{name} reached the logs"
    assert "page=2" in sent, "harmless query parameters are kept"


async def test_last_request_header_does_not_linger_in_middleware_locals(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    # No body, so the planted header is the last one each middleware sees while looping over headers.
    response = await client.get("/sentry-debug", headers={"X-Auth-Token": SECRETS["x_auth_token"]})
    assert response.status_code == 500
    sent = sentry_transport.everything_sent()
    assert sentry_transport.events
    assert SECRETS["x_auth_token"] not in sent


async def test_sql_parameters_never_reach_sentry_or_logs(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    response = await client.get("/query-with-secret")
    assert response.status_code >= 500  # SQLite calls a missing column operational, PostgreSQL a programming error
    sent = sentry_transport.everything_sent()
    assert "no_such_column" in sent, "the database error itself is reported"
    assert SECRETS["sql_parameter"] not in sent
    assert SECRETS["sql_parameter"] not in log_stream.getvalue()
    assert SECRETS["sql_parameter"] not in response.text


async def test_frame_locals_are_off_by_default(make_settings: MakeSettings) -> None:
    settings = make_settings(SENTRY_DSN=FAKE_DSN, ENABLE_DEBUG_ROUTES=True)
    transport = CapturingTransport()
    app = create_app(settings, sentry_transport=transport)
    try:
        async for client in open_client(app):
            await client.get("/sentry-debug")
        sentry_sdk.flush()
        (event,) = transport.events
        frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
        assert all("vars" not in frame for frame in frames)
    finally:
        reset_sentry()


def test_settings_never_show_the_dsn_or_the_database_password(make_settings: MakeSettings) -> None:
    settings = make_settings(
        SENTRY_DSN="https://pubkey-1@o1.ingest.example.com/1", DATABASE_URL="postgresql+asyncpg://app:pw-42@db/app"
    )
    for shown in (repr(settings), str(settings), str(settings.model_dump())):
        assert "pubkey-1" not in shown
        assert "pw-42" not in shown


async def test_library_frames_under_the_project_folder_are_not_in_app(
    app: FastAPI, client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    # Code compiled from a relative path resolves under the working directory, as uvloop's loop.pyx does.
    namespace: dict[str, Any] = {"__name__": "uvloop.loop"}
    exec(compile("def run(f):\n    return f()\n", "uvloop/loop.pyx", "exec"), namespace)  # noqa: S102

    @app.get("/through-a-library")
    async def through_a_library() -> None:
        namespace["run"](lambda: 1 / 0)

    await client.get("/through-a-library")
    sentry_sdk.flush()
    (event,) = sentry_transport.events
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    (library,) = [frame for frame in frames if frame.get("module") == "uvloop.loop"]
    assert not library.get("in_app")
    assert all(frame.get("module", "").startswith("app.") for frame in frames if frame.get("in_app"))

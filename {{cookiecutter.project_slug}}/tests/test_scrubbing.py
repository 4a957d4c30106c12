"""No secret leaves the process: not in events, transactions, breadcrumbs or log lines (behaviour 4)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI, Request
from sqlalchemy import text

from app.core import sentry
from app.core.config import Settings
from app.main import create_app
from tests.conftest import FAKE_DSN, CapturingTransport, MakeSettings, open_client, reset_sentry

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


def _everything_sent(transport: CapturingTransport) -> str:
    sentry_sdk.flush()
    return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in transport.envelopes)


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
    sent = _everything_sent(sentry_transport)
    assert sentry_transport.events, "the error must still be reported"
    assert sentry_transport.transactions, "the transaction must still be reported"
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
    sent = _everything_sent(sentry_transport)
    assert sentry_transport.events
    assert SECRETS["x_auth_token"] not in sent


async def test_sql_parameters_never_reach_sentry_or_logs(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    response = await client.get("/query-with-secret")
    assert response.status_code >= 500  # SQLite calls a missing column operational, PostgreSQL a programming error
    sent = _everything_sent(sentry_transport)
    assert "no_such_column" in sent, "the database error itself is reported"
    assert SECRETS["sql_parameter"] not in sent
    assert SECRETS["sql_parameter"] not in log_stream.getvalue()
    assert SECRETS["sql_parameter"] not in response.text


@pytest.mark.parametrize("exception_values", [[None], "not a list"])
def test_scrubber_failure_sends_a_stripped_event_instead_of_dropping_it(
    monkeypatch: pytest.MonkeyPatch, exception_values: Any
) -> None:
    def broken_scrubber(event: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(sentry, "scrub_event", broken_scrubber)
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "level": "error",
        "request": {"headers": {"authorization": SECRETS["authorization"]}},
        "extra": {"anything": SECRETS["body_password"]},
        "breadcrumbs": {"values": [{"message": SECRETS["card_number"]}]},
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": SECRETS["body_password"],
                    "stacktrace": {"frames": [{"function": "f", "vars": {"x": SECRETS["frame_local"]}}]},
                },
            ]
        },
    }
    malformed = {**event, "exception": {"values": exception_values}}
    for candidate in (event, malformed):
        result = sentry.before_send(candidate, {})  # type: ignore[arg-type]
        assert result is not None, "a scrubber failure must not drop the event"
        assert result["tags"]["scrubbing_failed"] == "true"
        for secret in SECRETS.values():
            assert secret not in repr(result)
    stripped = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert stripped is not None
    assert stripped["exception"]["values"][0]["type"] == "RuntimeError"
    assert stripped["exception"]["values"][0]["stacktrace"]["frames"] == [{"function": "f"}]


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

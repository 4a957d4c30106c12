"""No secret leaves the process: not in events, transactions, breadcrumbs or log lines (behaviour 4)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI, Request
from sqlalchemy import text

from app.core import event_scrubbing, redaction, sentry
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


# --- The rules themselves -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *("password", "new_password", "accessToken", "RefreshToken", "clientSecret", "apiKey", "X-Api-Key", "key"),
        *("code", "sig", "jwt", "otp", "pin", "bearer", "connectionString", "X-Authentication", "X-Access-Key"),
        *("Ocp-Apim-Subscription-Key", "SENTRY_DSN", "b'authorization'", "card_number", "session_id"),
    ],
)
def test_sensitive_names_are_recognised_in_every_spelling(name: str) -> None:
    assert redaction.is_sensitive_key(name)


@pytest.mark.parametrize(
    "name",
    ["status_code", "primary_key", "author", "tokenizer", "page", "order_id", "pin_count", "keyboard", "zip_code"],
)
def test_ordinary_names_stay_readable(name: str) -> None:
    assert not redaction.is_sensitive_key(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed for token abc123XYZdef", "login failed for token [Filtered]"),
        ("GET https://h/x?page=2&api_key=k3y-1&x=1", "GET https://h/x?page=2&api_key=[Filtered]&x=1"),
        (
            "input_value={'access_token': 'tok-123', 'user': 'bob'}",
            "input_value={'access_token': '[Filtered]', 'user': 'bob'}",
        ),
        ("query argument $1: 'pw-1' (expected int)", "query argument $1: [Filtered] (expected int)"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: [Filtered]"),
        ("sent with Bearer sk-live-1234", "sent with Bearer [Filtered]"),
        ("postgresql+asyncpg://app:pw@db:5432/app", "postgresql+asyncpg://[Filtered]:[Filtered]@db:5432/app"),
        ("Server=db;Password=pw-1;Database=app", "Server=db;Password=[Filtered];Database=app"),
        ("Login(username='bob', password='pw-1')", "Login(username='bob', password='[Filtered]')"),
        ('{"clientSecret": "s-1", "ok": "y"}', '{"clientSecret": "[Filtered]", "ok": "y"}'),
        ("note eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "note [Filtered]"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----", "[Filtered]"),
        ("card 4111 1111 1111 1111 on 2024", "card [Filtered] on 2024"),
        ("amex 378282246310005.", "amex [Filtered]."),
    ],
)
def test_value_rules_find_secrets_in_free_text(text: str, expected: str) -> None:
    assert redaction.redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-2024-000123 shipped",
        "status_code=503 primary_key=4242 author=Jane",
        "at 2024-01-15T10:20:30.123456Z",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "reference 4111111111111112",
        "token expired for user 42",
        "version 1.2.3; pin count 4",
    ],
)
def test_look_alikes_survive_the_value_rules(text: str) -> None:
    assert redaction.redact_text(text) == text


def test_extra_keys_extend_the_policy() -> None:
    try:
        redaction.configure(["customer_ref"])
        assert redaction.is_sensitive_key("customerRef")
        assert redaction.redact_text("customer_ref=abc") == "customer_ref=[Filtered]"
    finally:
        redaction.configure([])
    assert not redaction.is_sensitive_key("customerRef")


class HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"password": "deep-secret-1"}
    for _ in range(depth):
        value = {"level": value}
    return value


HOSTILE_VALUES: list[Any] = [
    "http://[Filtered]:[Filtered]@api.example.com/x?token=t0ken-1",
    "http://host:99999999/x?password=pw-1",
    "http://[::1/x?api_key=k-1",
    b"password=pw-1\xff\xfe",
    "password=pw-1 " + "x" * 1_000_000,
    nested(1000),
    HostileRepr(),
    {HostileRepr(): "x", b"api_key": "k-1", 3: None},
]


@pytest.mark.parametrize(
    "value", HOSTILE_VALUES, ids=["filtered-host", "bad-port", "bad-ipv6", "bytes", "megabyte", "deep", "repr", "keys"]
)
def test_rules_never_raise_on_hostile_input(value: Any) -> None:
    result = redaction.redact(value)
    for secret in ("t0ken-1", "pw-1", "k-1", "deep-secret-1"):
        assert secret not in repr(result)[:2_000_000]


@pytest.mark.parametrize(
    "value", HOSTILE_VALUES, ids=["filtered-host", "bad-port", "bad-ipv6", "bytes", "megabyte", "deep", "repr", "keys"]
)
def test_event_scrubbing_never_raises_and_keeps_the_event(value: Any) -> None:
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "request": {"url": value if isinstance(value, str) else "http://h/", "data": value},
        "breadcrumbs": {"values": [{"category": "httplib", "data": {"url": value}, "message": value}]},
        "extra": {"anything": value},
        "spans": [{"description": value, "data": {"url": value}}],
        "tags": {"where": value},
    }
    result = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert result is not None
    assert "scrubbing_failed" not in result.get("tags", {})
    assert {"request", "breadcrumbs", "extra", "spans"} <= result.keys()


def test_a_failing_part_costs_that_part_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("bug in one scrubber")

    monkeypatch.setitem(event_scrubbing._SECTIONS, "extra", broken)
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "extra": {"x": "y"},
        "request": {"url": "http://h/?card=4111111111111111"},
    }
    result = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert result is not None
    assert "extra" not in result
    assert result["request"]["url"] == "http://h/?card=[Filtered]"
    assert result["tags"]["scrubbing_failed"] == "true"


def test_settings_never_show_the_dsn_or_the_database_password(make_settings: MakeSettings) -> None:
    settings = make_settings(
        SENTRY_DSN="https://pubkey-1@o1.ingest.sentry.io/1", DATABASE_URL="postgresql+asyncpg://app:pw-42@db/app"
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

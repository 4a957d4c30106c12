"""A planted-secret corpus: every kind of leak, each with its own marker, must be absent from what leaves the process.

One request plants them all (query, headers, body, path, logs, exceptions, locals, tags, extra, outbound calls);
every envelope item the SDK would send and every JSON log line is searched for every marker. Next to it, values
that only look like secrets must survive. With ``REDACTION_CORPUS_DUMP=<file>`` the corpus's events are written
there, for the template's check with Sentry's own scrubber (Relay).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from app.core.config import Settings
from tests.conftest import FAKE_DSN, CapturingTransport, MakeSettings


def luhn_card(prefix: str, length: int) -> str:
    """A card number of ``length`` digits starting with ``prefix`` that passes the Luhn check."""
    body = prefix.ljust(length - 1, "7")
    for check in "0123456789":
        digits = [int(d) for d in reversed(body + check)]
        if sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def jwt(marker: str) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{marker}In0.c2lnbmF0dXJl{marker}"


def marker(index: int) -> str:
    return f"mk{index:02d}Zq7w"


# Family (the numbering) and where the case is planted -> its marker.
CASES: dict[str, str] = {
    name: marker(index)
    for index, name in enumerate(
        [
            "1 exception: login failed for token",
            "1 exception: httpx HTTPStatusError URL ?api_key=",
            "1 exception: pydantic ValidationError input_value dict",
            "1 exception: asyncpg query argument text",
            "1 exception: password= in the message",
            "2 log: structlog field password",
            "2 log: structlog field api_key",
            "2 log: stdlib %s with a bearer token",
            "2 log: outbound URL with user:password",
            "2 log: contextvar bound with a secret name",
            "3 key: query accessToken",
            "3 key: query refreshToken",
            "3 key: query clientSecret",
            "3 key: query apiKey",
            "3 key: query key",
            "3 key: query code",
            "3 key: query sig",
            "3 key: query jwt",
            "3 key: query otp",
            "3 key: query pin",
            "3 key: body bearer",
            "3 key: body connectionString",
            "3 key: header X-Authentication",
            "3 key: header Ocp-Apim-Subscription-Key",
            "3 key: header X-Access-Key",
            "4 value: Bearer in free text",
            "4 value: Password= in a connection string",
            "4 value: URL userinfo",
            "5 locals: pydantic body model",
            "5 locals: Settings object (DSN)",
            "5 locals: Settings object (DATABASE_URL password)",
            "5 locals: db_url string",
            "5 locals: environment entries",
            "6 path: route parameter {token}",
            "7 attached: set_tag customer_token",
            "7 attached: set_extra endpoint userinfo",
            "7 attached: set_extra DATABASE_URL",
            "7 attached: set_context",
            "8 process: sys.argv",
            "10 hostile: outbound URL userinfo (httpx [Filtered] host)",
            "10 hostile: outbound query api_key",
            "4 value: PEM private key",
        ],
        start=1,
    )
}
# Secrets that are their own marker: the rules must know them by their shape.
SHAPED: dict[str, str] = {
    "1 exception: card number in the message": luhn_card("4000001", 16),
    "2 log: card field": luhn_card("5500002", 16),
    "4 value: JWT under an innocent key": jwt("mk90Zq7w"),
    "4 value: 15-digit card in a query string": luhn_card("3400003", 15),
    "6 path: JWT in an unmatched path": jwt("mk91Zq7w"),
}
PEM = f"-----BEGIN PRIVATE KEY-----\nMIIE{CASES['4 value: PEM private key']}\n-----END PRIVATE KEY-----"
THIRD_PARTY = "https://api.example.com"


def m(name: str) -> str:
    return CASES[name]


class DataError(Exception):
    """Stands for asyncpg's DataError, whose text quotes the bound value it could not encode."""


class Login(BaseModel):
    model_config = ConfigDict(extra="allow")
    username: str
    password: str


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_INCLUDE_LOCALS=True, SENTRY_TRACES_SAMPLE_RATE=1.0)


@pytest.fixture
def outbound() -> list[httpx.Request]:
    return []


def raise_chain() -> None:
    """Five exceptions chained by ``raise ... from``, each text holding a secret the way real libraries write it."""
    try:
        try:
            try:
                try:
                    TypeAdapter(int).validate_python(
                        {"access_token": m("1 exception: pydantic ValidationError input_value dict")}
                    )
                except ValidationError as exc:
                    raise DataError(
                        f"invalid input for query argument $1: {m('1 exception: asyncpg query argument text')!r}"
                        " ('str' object cannot be interpreted as an integer)"
                    ) from exc
            except DataError as exc:
                url = f"{THIRD_PARTY}/v1/items?api_key={m('1 exception: httpx HTTPStatusError URL ?api_key=')}"
                response = httpx.Response(401, request=httpx.Request("GET", url))
                try:
                    response.raise_for_status()
                except httpx.HTTPStatusError as status_error:
                    raise status_error from exc
        except httpx.HTTPStatusError as exc:
            raise RuntimeError(f"retry failed: password={m('1 exception: password= in the message')}") from exc
    except RuntimeError as exc:
        card = SHAPED["1 exception: card number in the message"]
        token = m("1 exception: login failed for token")
        raise ValueError(f"login failed for token {token} (card {card})") from exc


@pytest.fixture
def app(app: FastAPI, outbound: list[httpx.Request], monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # Test routes live in this module: count its frames as in-app so that their locals are sent and scrubbed.
    sentry_sdk.get_client().options["in_app_include"].append("tests")
    monkeypatch.setattr(sys, "argv", ["uvicorn", "app.main:app", "--ssl-keyfile-password", m("8 process: sys.argv")])
    monkeypatch.setenv("CORPUS_UPSTREAM", f"https://svc:{m('5 locals: environment entries')}@upstream.internal/")
    log = structlog.get_logger("app.corpus")

    def record(request: httpx.Request) -> httpx.Response:
        outbound.append(request)
        return httpx.Response(200, json={})

    @app.post("/corpus/reset/{token}")
    async def plant_everything(token: str, login: Login, request: Request) -> None:
        structlog.contextvars.bind_contextvars(session_token=m("2 log: contextvar bound with a secret name"))
        log.info(
            "charging",
            password=m("2 log: structlog field password"),
            api_key=m("2 log: structlog field api_key"),
            card=SHAPED["2 log: card field"],
        )
        logging.getLogger("app.corpus.stdlib").warning(
            "upstream auth header was %s", f"Bearer {m('2 log: stdlib %s with a bearer token')}"
        )
        log.info("calling upstream", url=f"https://user:{m('2 log: outbound URL with user:password')}@svc.internal/x")
        sentry_sdk.set_tag("customer_token", m("7 attached: set_tag customer_token"))
        db_url = f"postgresql+asyncpg://app:{m('5 locals: db_url string')}@db:5432/app"  # noqa: F841  (a local for the event)
        sentry_sdk.set_extra(
            "upstream",
            {
                "endpoint": f"http://svc:{m('7 attached: set_extra endpoint userinfo')}@host/",
                "db": f"postgresql://app:{m('7 attached: set_extra DATABASE_URL')}@db/app",
            },
        )
        sentry_sdk.set_context("billing", {"note": f"Bearer {m('7 attached: set_context')}-tail"})
        configured = Settings(  # noqa: F841
            _env_file=None,
            SENTRY_DSN=f"https://{m('5 locals: Settings object (DSN)')}@o1.ingest.sentry.io/1",
            DATABASE_URL=f"postgresql+asyncpg://app:{m('5 locals: Settings object (DATABASE_URL password)')}@db/app",
        )
        environment = {"CORPUS_UPSTREAM": os.environ["CORPUS_UPSTREAM"]}  # noqa: F841
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            await client.get(
                f"https://user:{m('10 hostile: outbound URL userinfo (httpx [Filtered] host)')}@api.example.com/v1"
            )
            await client.get(f"{THIRD_PARTY}/v1?api_key={m('10 hostile: outbound query api_key')}&page=2")
            await client.get("http://localhost:8001/internal")
        # login, configured, db_url, environment and token are locals of this frame when the chain is raised.
        raise_chain()

    return app


def corpus_query() -> dict[str, str]:
    names = ["accessToken", "refreshToken", "clientSecret", "apiKey", "key", "code", "sig", "jwt", "otp", "pin"]
    query = {name: m(f"3 key: query {name}") for name in names}
    return {**query, "ref": SHAPED["4 value: 15-digit card in a query string"], "page": "2"}


def everything_sent(transport: CapturingTransport) -> str:
    sentry_sdk.flush()
    return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in transport.envelopes)


@pytest.fixture
async def planted(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> tuple[str, str, httpx.Response]:
    """Play the corpus once; return (every envelope serialized, every log line, the response)."""
    response = await client.post(
        f"/corpus/reset/{m('6 path: route parameter {token}')}",
        params=corpus_query(),
        headers={
            "X-Authentication": m("3 key: header X-Authentication"),
            "Ocp-Apim-Subscription-Key": m("3 key: header Ocp-Apim-Subscription-Key"),
            "X-Access-Key": m("3 key: header X-Access-Key"),
        },
        json={
            "username": "bob",
            "password": m("5 locals: pydantic body model"),
            "bearer": m("3 key: body bearer"),
            "connectionString": m("3 key: body connectionString"),
            "note": SHAPED["4 value: JWT under an innocent key"],
            "comment": f"sent with Bearer {m('4 value: Bearer in free text')}",
            "conn": f"Server=db;Password={m('4 value: Password= in a connection string')};Database=app",
            "endpoint": f"http://admin:{m('4 value: URL userinfo')}@internal.example/",
            "signing": PEM,
        },
    )
    await client.get(f"/no-such-route/{SHAPED['6 path: JWT in an unmatched path']}")
    sent = everything_sent(sentry_transport)
    dump = os.environ.get("REDACTION_CORPUS_DUMP")
    if dump:
        items = sentry_transport.items("event") + sentry_transport.items("transaction")
        Path(dump).write_text(json.dumps(items), encoding="utf-8")  # noqa: ASYNC240  (once, after the requests)
    return sent, log_stream.getvalue(), response


def test_corpus_covers_every_family_with_at_least_forty_markers() -> None:
    markers = [*CASES.values(), *SHAPED.values()]
    assert len(set(markers)) == len(markers) >= 40
    assert {name.split(" ")[0] for name in [*CASES, *SHAPED]} >= {str(n) for n in range(1, 11)} - {"9", "11"}


def test_no_planted_secret_reaches_any_envelope_item(
    planted: tuple[str, str, httpx.Response], sentry_transport: CapturingTransport
) -> None:
    sent, _, response = planted
    assert response.status_code == 500
    assert sentry_transport.events, "the corpus must produce an event to search"
    assert sentry_transport.transactions, "the corpus must produce a transaction to search"
    leaked = [name for name, secret in {**CASES, **SHAPED}.items() if secret in sent or secret.replace(" ", "") in sent]
    assert leaked == []


def test_no_planted_secret_reaches_any_log_line(planted: tuple[str, str, httpx.Response]) -> None:
    _, logs, _ = planted
    assert "charging" in logs, "the corpus must produce log lines to search"
    assert "login failed for token" in logs, "the error line renders the exception chain"
    leaked = [name for name, secret in {**CASES, **SHAPED}.items() if secret in logs]
    assert leaked == []


def test_the_event_keeps_its_request_breadcrumbs_and_exception_chain(
    planted: tuple[str, str, httpx.Response], sentry_transport: CapturingTransport
) -> None:
    (event,) = sentry_transport.events
    assert "scrubbing_failed" not in event.get("tags", {})
    assert event["request"]["url"].endswith("/corpus/reset/[Filtered]")
    assert "page=2" in event["request"]["query_string"]
    crumbs = event["breadcrumbs"]["values"]
    assert any(crumb.get("category") == "httplib" for crumb in crumbs), "the outbound calls are breadcrumbs"
    request_id = planted[2].headers["X-Request-ID"]
    (charging,) = [c for c in crumbs if c.get("message") == "charging" and c["data"].get("request_id") == request_id]
    assert charging["data"]["password"] == "[Filtered]"
    types = [value["type"] for value in event["exception"]["values"]]
    assert types == ["ValidationError", "DataError", "HTTPStatusError", "RuntimeError", "ValueError"]
    assert "extra" not in event or "sys.argv" not in event["extra"]


def test_trace_headers_go_to_the_services_own_hosts_only(
    planted: tuple[str, str, httpx.Response], outbound: list[httpx.Request]
) -> None:
    by_host = {request.url.host: request.headers for request in outbound}
    assert "sentry-trace" not in by_host["api.example.com"]
    assert "baggage" not in by_host["api.example.com"]
    assert "sentry-trace" in by_host["localhost"]


LOOK_ALIKES: dict[str, Any] = {
    "order_number": "ORD-2024-000123",
    "status_code": 503,
    "primary_key": 4242,
    "author": "Jane Doe",
    "tokenizer": "wordpiece",
    "created_at": "2024-01-15T10:20:30.123456Z",
    "request_uuid": "123e4567-e89b-12d3-a456-426614174000",
    "reference": "4111111111111112",
    "version": "1.2.3",
}


@pytest.fixture
def look_alike_app(app: FastAPI) -> FastAPI:
    @app.get("/corpus/look-alikes")
    async def look_alikes() -> None:
        structlog.get_logger("app.corpus").info("order placed", **LOOK_ALIKES)
        sentry_sdk.set_extra("order", LOOK_ALIKES)
        raise RuntimeError(f"order {LOOK_ALIKES['order_number']} failed: {json.dumps(LOOK_ALIKES)}")

    return app


async def test_look_alikes_survive_unredacted(
    look_alike_app: FastAPI, client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> None:
    await client.get("/corpus/look-alikes")
    sentry_sdk.flush()
    (event,) = sentry_transport.events
    assert event["extra"]["order"] == LOOK_ALIKES
    assert event["exception"]["values"][-1]["value"] == f"order ORD-2024-000123 failed: {json.dumps(LOOK_ALIKES)}"
    (line,) = [json.loads(line) for line in log_stream.getvalue().splitlines() if '"order placed"' in line]
    assert {key: line[key] for key in LOOK_ALIKES} == LOOK_ALIKES

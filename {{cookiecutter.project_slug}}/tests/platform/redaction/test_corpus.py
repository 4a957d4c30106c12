"""A planted-secret corpus: every kind of leak, each with its own marker, must be absent from what leaves the process.

One request plants them all (the markers and the route: ``tests/support/corpus.py``); every envelope item the SDK
would send and every JSON log line is searched for every marker. Next to it, values that only look like secrets
must survive. With ``REDACTION_CORPUS_DUMP=<file>`` the corpus's events are written there, for the template's check
with Sentry's own scrubber (Relay).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import FastAPI

from app.core.config import Settings
from tests.conftest import MakeSettings
from tests.support import corpus as support_corpus
from tests.support.corpus import CASES, PEM, SHAPED, m
from tests.support.sentry import FAKE_DSN, CapturingTransport


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    # Sentry Logs on: every log line is an envelope item too, searched with the rest.
    return make_settings(
        SENTRY_DSN=FAKE_DSN, SENTRY_INCLUDE_LOCALS=True, SENTRY_TRACES_SAMPLE_RATE=1.0, SENTRY_ENABLE_LOGS=True
    )


@pytest.fixture
def outbound() -> list[httpx.Request]:
    return []


@pytest.fixture
def app(app: FastAPI, outbound: list[httpx.Request], monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # The corpus's route lives in tests/: count its frames as in-app so that their locals are sent and scrubbed.
    sentry_sdk.get_client().options["in_app_include"].append("tests")
    monkeypatch.setattr(sys, "argv", ["uvicorn", "app.main:app", "--ssl-keyfile-password", m("8 process: sys.argv")])
    monkeypatch.setenv("CORPUS_UPSTREAM", f"https://svc:{m('5 locals: environment entries')}@upstream.internal/")
    support_corpus.mount(app, outbound)
    return app


def corpus_query() -> dict[str, str]:
    names = ["accessToken", "refreshToken", "clientSecret", "apiKey", "key", "code", "sig", "jwt", "otp", "pin"]
    query = {name: m(f"3 key: query {name}") for name in names}
    return {**query, "ref": SHAPED["4 value: 15-digit card in a query string"], "page": "2"}


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
    sent = sentry_transport.everything_sent()
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
    assert sentry_transport.traced(), "the corpus must produce a traced request to search"
    assert sentry_transport.logs, "the corpus must produce Sentry logs to search"
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
    (charging,) = [crumb for crumb in crumbs if crumb.get("message") == "charging"]  # this request's scope only
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

"""Per-request Sentry context: a trace per request, transactions only when sampled, never for health checks."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI, Request

from app.core.config import Settings
from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app
from tests.support.sentry import FAKE_DSN, CapturingTransport, static_only

INCOMING_TRACE_ID = "771a43a4192642f0b136d5159a501700"


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/read-then-fail")
    async def read_then_fail(request: Request) -> None:
        await request.json()
        raise RuntimeError("failed after reading the body")

    return app


async def test_sampled_request_is_a_transaction_named_by_its_route(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    response = await client.get("/api/v1/notes/7")
    assert response.status_code == 404
    (traced,) = sentry_transport.traced()
    assert traced["name"] == "/api/v1/notes/{note_id}"
    assert traced["op"] == "http.server"
    assert traced["status"] == "ok", "a 4xx is the client's error, not the service's"
    assert any(span["op"] == "db" for span in traced["spans"]), "database queries are spans"
    for transaction in sentry_transport.transactions:  # a streamed segment has no tags
        assert transaction["tags"]["request_id"] == response.headers["X-Request-ID"]


async def test_a_request_answered_with_a_5xx_is_traced_as_an_error(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get("/sentry-debug")).status_code == 500
    (traced,) = sentry_transport.traced()
    assert (traced["name"], traced["status"]) == ("/sentry-debug", "error")


@static_only
async def test_a_transaction_carries_the_request_line_not_its_headers_or_body(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    response = await client.post(
        "/api/v1/notes?draft=1",
        json={"title": "kept out of transactions"},
        headers={"User-Agent": "probe/1.0", "X-Tenant": "acme"},
    )
    assert response.status_code == 201
    (transaction,) = sentry_transport.transactions
    request = transaction["request"]
    assert request["method"] == "POST"
    assert request["url"].endswith("/api/v1/notes")
    assert request["query_string"] == "draft=1"
    assert request["headers"] == {"user-agent": "probe/1.0"}
    assert "data" not in request
    assert transaction["contexts"]["trace"]["data"]["thread.name"], "the transaction still says where it ran"
    for span in transaction["spans"]:
        assert not {"thread.id", "thread.name"} & set(span.get("data", {})), span


async def test_health_checks_are_never_traced(client: httpx.AsyncClient, sentry_transport: CapturingTransport) -> None:
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).status_code == 200
    assert sentry_transport.traced() == []


async def test_requests_matching_no_route_are_not_traced(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    assert (await client.get("/wp-admin/setup.php")).status_code == 404
    assert sentry_transport.traced() == []


@pytest.mark.parametrize("path", ["/health/live", "/wp-admin/setup.php"])
async def test_a_callers_sampled_flag_traces_neither_a_health_check_nor_a_path_no_route_matches(
    make_settings: MakeSettings, sentry_transport: CapturingTransport, path: str
) -> None:
    app = create_test_app(
        make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=0.0), sentry_transport=sentry_transport
    )
    async for client in open_client(app):
        await client.get(path, headers={"sentry-trace": f"{INCOMING_TRACE_ID}-b0e6f15b45c36b12-1"})
        assert sentry_transport.traced() == []
        await client.get("/api/v1/notes", headers={"sentry-trace": f"{INCOMING_TRACE_ID}-b0e6f15b45c36b12-1"})
    assert [traced["trace_id"] for traced in sentry_transport.traced()] == [INCOMING_TRACE_ID]


async def test_unsampled_requests_send_no_transaction(
    make_settings: MakeSettings, sentry_transport: CapturingTransport
) -> None:
    app = create_test_app(
        make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=0.0), sentry_transport=sentry_transport
    )
    async for client in open_client(app):
        await client.get("/api/v1/notes")
    assert sentry_transport.traced() == []


async def test_each_request_gets_its_own_trace(client: httpx.AsyncClient, sentry_transport: CapturingTransport) -> None:
    await client.get("/api/v1/notes")
    await client.get("/api/v1/notes")
    first, second = sentry_transport.traced()
    assert first["trace_id"] != second["trace_id"]


async def test_new_traces_have_w3c_ids(client: httpx.AsyncClient, sentry_transport: CapturingTransport) -> None:
    await client.get("/sentry-debug")
    await client.get("/sentry-debug")
    traces = [event["contexts"]["trace"] for event in sentry_transport.events]
    assert len(traces) == 2
    for trace in traces:
        assert re.fullmatch(r"[0-9a-f]{32}", trace["trace_id"])
        assert re.fullmatch(r"[0-9a-f]{16}", trace["span_id"])
    assert traces[0]["trace_id"] != traces[1]["trace_id"]


async def test_incoming_trace_is_continued(client: httpx.AsyncClient, sentry_transport: CapturingTransport) -> None:
    response = await client.get("/sentry-debug", headers={"sentry-trace": f"{INCOMING_TRACE_ID}-b0e6f15b45c36b12-1"})
    assert response.status_code == 500
    (event,) = sentry_transport.events
    assert event["contexts"]["trace"]["trace_id"] == INCOMING_TRACE_ID
    (traced,) = sentry_transport.traced()
    assert traced["trace_id"] == INCOMING_TRACE_ID


async def test_error_event_carries_the_json_body_it_was_sent(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    response = await client.post("/api/v1/notes", json={"title": "x", "body": "y", "extra": {"password": "pw-1"}})
    assert response.status_code == 422
    assert sentry_transport.events == []
    await client.post("/read-then-fail", json={"note": "kept", "password": "pw-2"})
    (event,) = sentry_transport.events
    assert event["request"]["data"] == {"note": "kept", "password": "[Filtered]"}

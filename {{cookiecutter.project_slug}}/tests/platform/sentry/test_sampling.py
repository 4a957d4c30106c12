"""Trace sampling: one decision per trace, from its own ``sample_rand``, told to Sentry and to downstream services."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest.mock import Mock
from urllib.parse import unquote

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from sentry_sdk import traces
from starlette.routing import Match

from app.core.sentry import make_traces_sampler
from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app
from tests.support.sentry import FAKE_DSN, CapturingTransport

TRACE = "771a43a4192642f0b136d5159a501700"
UPSTREAM_SPAN = "b0e6f15b45c36b12"
# A host in SENTRY_TRACE_PROPAGATION_TARGETS by default: outgoing calls to it carry the trace headers.
DOWNSTREAM = "http://localhost/downstream"

# Builds the service at a trace rate; each request to /calls-downstream makes one call to DOWNSTREAM.
ServiceAt = Callable[[float], FastAPI]


def baggage_items(header: str) -> dict[str, str]:
    """The ``sentry-`` items of a baggage header."""
    pairs = (item.strip().split("=", 1) for item in header.split(","))
    return {unquote(key).removeprefix("sentry-"): unquote(value) for key, value in pairs if key.startswith("sentry-")}


@pytest.fixture
def outgoing() -> list[httpx.Headers]:
    """The headers of every call the service made to DOWNSTREAM."""
    return []


@pytest.fixture
def read_in_route() -> list[dict[str, Any]]:
    """What the route read from the SDK while it ran: its trace headers and current span."""
    return []


@pytest.fixture
def service_at(
    make_settings: MakeSettings,
    sentry_transport: CapturingTransport,
    outgoing: list[httpx.Headers],
    read_in_route: list[dict[str, Any]],
) -> ServiceAt:
    def downstream(request: httpx.Request) -> httpx.Response:
        outgoing.append(request.headers)
        return httpx.Response(204)

    def build(rate: float) -> FastAPI:
        settings = make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=rate)
        app = create_test_app(settings, sentry_transport=sentry_transport)

        @app.get("/calls-downstream")
        async def calls_downstream() -> None:
            read_in_route.append(
                {
                    "traceparent": sentry_sdk.get_traceparent(),
                    "baggage": sentry_sdk.get_baggage(),
                    "span": sentry_sdk.get_current_span(),
                }
            )
            async with httpx.AsyncClient(transport=httpx.MockTransport(downstream)) as http:
                await http.get(DOWNSTREAM)

        return app

    return build


async def call(app: FastAPI, count: int = 1, headers: dict[str, str] | None = None) -> None:
    async for client in open_client(app):
        for _ in range(count):
            assert (await client.get("/calls-downstream", headers=headers)).status_code == 200


def undecided_trace(sample_rand: str) -> dict[str, str]:
    """An upstream that left the decision to this service (no sampled flag), with the trace's sample_rand."""
    baggage = f"sentry-trace_id={TRACE},sentry-sample_rand={sample_rand}"
    return {"sentry-trace": f"{TRACE}-{UPSTREAM_SPAN}", "baggage": baggage}


@pytest.mark.parametrize(("sample_rand", "sampled"), [("0.05", True), ("0.5", False)])
async def test_the_traces_sample_rand_decides_and_downstream_is_told(
    service_at: ServiceAt,
    sentry_transport: CapturingTransport,
    outgoing: list[httpx.Headers],
    sample_rand: str,
    sampled: bool,
) -> None:
    await call(service_at(0.1), headers=undecided_trace(sample_rand))
    (sent,) = outgoing
    trace_id, span_id, flag = sent["sentry-trace"].split("-")
    assert (trace_id, flag) == (TRACE, str(int(sampled)))
    assert re.fullmatch("[0-9a-f]+", span_id)
    assert len(span_id) == 16
    baggage = baggage_items(sent["baggage"])
    assert (baggage["sample_rand"], baggage["sample_rate"]) == (sample_rand, "0.1")
    assert baggage["sampled"] == str(sampled).lower()
    assert len(sentry_transport.traced()) == int(sampled)


async def test_a_sampled_transaction_carries_the_configured_rate(
    service_at: ServiceAt, sentry_transport: CapturingTransport
) -> None:
    await call(service_at(0.1), headers=undecided_trace("0.05"))
    sentry_transport.everything_sent()
    # The trace's dynamic sampling context travels in the header of the envelope of its transaction (or spans).
    traced = [e for e in sentry_transport.envelopes if any(i.type in {"transaction", "span"} for i in e.items)]
    (envelope,) = traced
    assert envelope.headers["trace"]["sample_rate"] == "0.1"
    assert envelope.headers["trace"]["sampled"] == "true"


async def test_new_traces_are_decided_by_their_own_sample_rand(
    service_at: ServiceAt, sentry_transport: CapturingTransport, outgoing: list[httpx.Headers]
) -> None:
    await call(service_at(0.5), count=20)
    decided = {}
    for sent in outgoing:
        trace_id, _, flag = sent["sentry-trace"].split("-")
        baggage = baggage_items(sent["baggage"])
        assert baggage["trace_id"] == trace_id
        assert baggage["sample_rate"] == "0.5"
        assert flag == ("1" if float(baggage["sample_rand"]) < 0.5 else "0")
        decided[trace_id] = flag == "1"
    traced = {traced["trace_id"] for traced in sentry_transport.traced()}
    assert traced == {trace_id for trace_id, sampled in decided.items() if sampled}


@pytest.mark.parametrize(("flag", "sample_rand"), [("1", "0.9"), ("0", "0.05")])
async def test_an_upstream_decision_is_followed_and_its_baggage_passed_on(
    service_at: ServiceAt,
    sentry_transport: CapturingTransport,
    outgoing: list[httpx.Headers],
    flag: str,
    sample_rand: str,
) -> None:
    """The sample_rand would decide the other way at this service's rate: the upstream's flag wins."""
    sampled = "true" if flag == "1" else "false"
    decided = f"sentry-sample_rand={sample_rand},sentry-sample_rate=0.25,sentry-sampled={sampled}"
    baggage = f"sentry-trace_id={TRACE},{decided}"
    await call(service_at(0.1), headers={"sentry-trace": f"{TRACE}-{UPSTREAM_SPAN}-{flag}", "baggage": baggage})
    (sent,) = outgoing
    assert sent["sentry-trace"].endswith(f"-{flag}")
    assert baggage_items(sent["baggage"]) == baggage_items(baggage)
    assert len(sentry_transport.traced()) == int(flag)


async def test_an_unsampled_request_has_no_transaction_and_tells_the_sdk_it_is_unsampled(
    service_at: ServiceAt, read_in_route: list[dict[str, Any]]
) -> None:
    await call(service_at(0.0))
    (read,) = read_in_route
    span = read["span"]
    assert span is None or not span.sampled  # sentry-sdk 3 gives the unsampled segment, a no-op span
    assert re.fullmatch(r"[0-9a-f]{32}-[0-9a-f]{16}-0", read["traceparent"])
    baggage = baggage_items(read["baggage"])
    assert {"sample_rand", "sample_rate", "sampled"} <= set(baggage)
    assert (baggage["sample_rate"], baggage["sampled"]) == ("0.0", "false")


async def test_a_path_no_route_matches_is_never_traced_whatever_its_sample_rand(
    service_at: ServiceAt, sentry_transport: CapturingTransport
) -> None:
    async for client in open_client(service_at(0.5)):
        for _ in range(20):  # new traces, about half of them kept by their own sample_rand at this rate
            assert (await client.get("/wp-admin/setup.php")).status_code == 404
        await client.get("/wp-admin/setup.php", headers=undecided_trace("0.05"))
    assert sentry_transport.traced() == []


@pytest.mark.parametrize(("sample_rand", "asked"), [("0.05", 1), ("0.5", 0)])
def test_the_streaming_sampler_asks_the_router_only_for_a_trace_its_rate_keeps(sample_rand: str, asked: int) -> None:
    route = Mock(**{"matches.return_value": (Match.NONE, {})})  # a route that matches nothing
    request = {"type": "http", "path": "/wp-admin", "app": SimpleNamespace(router=SimpleNamespace(routes=[route]))}
    sampler = make_traces_sampler(0.1, routed_only=True)
    with sentry_sdk.isolation_scope():
        traces.continue_trace(undecided_trace(sample_rand))
        # The context sentry-sdk gives a segment's sampler, with the request's scope the service adds to it.
        rate = sampler({"transaction_context": {"trace_id": TRACE}, "parent_sampled": None, "asgi_scope": request})
    assert route.matches.call_count == asked
    assert not float(sample_rand) < rate, "left out either way"

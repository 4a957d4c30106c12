"""Streamed spans (``SENTRY_TRACE_LIFECYCLE=stream``) leave through the redaction policy, whatever the suite's
lifecycle: names and attributes scrubbed, the command line never sent, a scrubber bug no leak."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi import FastAPI
from sentry_sdk import traces

from app.core.redaction import FILTERED, _spans, scrub_span
from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app
from tests.support.sentry import FAKE_DSN, CapturingTransport

SECRET = "planted-span-secret-4242"
ARGV_SECRET = "argv-keyfile-password-5151"


def span_json(**attributes: Any) -> dict[str, Any]:
    return {
        "trace_id": "771a43a4192642f0b136d5159a501700",
        "span_id": "b0e6f15b45c36b12",
        "name": f"GET /reset?password={SECRET}",
        "status": "ok",
        "is_segment": True,
        "start_timestamp": 1.0,
        "attributes": {"sentry.op": "http.server", "sentry.sdk.name": "sentry.python", **attributes},
    }


@pytest.fixture
def stream_app(make_settings: MakeSettings, sentry_transport: CapturingTransport) -> FastAPI:
    """The service streaming its spans, every request traced, with a route that plants a secret in its span."""
    settings = make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0, SENTRY_TRACE_LIFECYCLE="stream")
    app = create_test_app(settings, sentry_transport=sentry_transport)

    @app.get("/plants-a-secret")
    async def plants_a_secret() -> None:
        span = traces.get_current_span()
        assert span is not None
        span.set_attribute("password", SECRET)
        span.set_attribute("note", f"token={SECRET}")

    return app


def test_a_secret_in_a_span_name_or_attribute_is_filtered() -> None:
    scrubbed = scrub_span(span_json(password=SECRET, note=f"api_key={SECRET}", count=3), {})  # type: ignore[arg-type]
    assert SECRET not in str(scrubbed)
    assert scrubbed["attributes"]["password"] == FILTERED
    assert scrubbed["attributes"]["count"] == 3
    assert scrubbed["attributes"]["sentry.op"] == "http.server"


def test_the_command_line_is_never_sent() -> None:
    scrubbed = scrub_span(span_json(**{"process.command_args": ["uvicorn", ARGV_SECRET]}), {})  # type: ignore[arg-type]
    assert "process.command_args" not in scrubbed["attributes"]


def test_a_failing_scrubber_sends_a_stripped_span(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(key: str, value: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(_spans, "scrub_attribute", broken)
    scrubbed = scrub_span(span_json(password=SECRET, **{"process.command_args": [ARGV_SECRET]}), {})  # type: ignore[arg-type]
    assert SECRET not in str(scrubbed)
    assert ARGV_SECRET not in str(scrubbed)
    assert scrubbed["name"] == _spans.UNSCRUBBED_NAME
    assert scrubbed["attributes"] == {"sentry.op": "http.server", "sentry.sdk.name": "sentry.python"}


def test_a_span_that_is_no_dict_gives_way_to_an_empty_one() -> None:
    scrubbed: Any = scrub_span(None, {})  # type: ignore[arg-type]
    assert scrubbed == {"name": _spans.UNSCRUBBED_NAME, "attributes": {}}


async def test_no_planted_secret_or_command_line_leaves_in_a_streamed_span(
    stream_app: FastAPI, sentry_transport: CapturingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["uvicorn", f"--ssl-keyfile-password={ARGV_SECRET}"])
    async for client in open_client(stream_app):
        assert (await client.get("/plants-a-secret")).status_code == 200
    sent = sentry_transport.everything_sent()
    (segment,) = [span for span in sentry_transport.spans if span["is_segment"]]
    assert segment["name"] == "/plants-a-secret"
    assert segment["attributes"]["password"] == FILTERED
    assert "process.command_args" not in segment["attributes"]
    assert SECRET not in sent
    assert ARGV_SECRET not in sent


async def test_a_scrubber_bug_still_sends_no_secret(
    stream_app: FastAPI, sentry_transport: CapturingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(key: str, value: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(_spans, "scrub_attribute", broken)
    monkeypatch.setattr(sys, "argv", ["uvicorn", f"--ssl-keyfile-password={ARGV_SECRET}"])
    async for client in open_client(stream_app):
        assert (await client.get("/plants-a-secret")).status_code == 200
    sent = sentry_transport.everything_sent()
    assert [span["name"] for span in sentry_transport.spans if span["is_segment"]] == [_spans.UNSCRUBBED_NAME]
    assert SECRET not in sent
    assert ARGV_SECRET not in sent


async def test_a_segment_carries_its_url_query_and_user_agent_with_their_secrets_filtered(
    stream_app: FastAPI, sentry_transport: CapturingTransport
) -> None:
    @stream_app.get("/links/{token}")
    async def link(token: str) -> None:
        del token

    async for client in open_client(stream_app):
        response = await client.get(f"/links/{SECRET}?page=2&api_key={SECRET}", headers={"user-agent": "probe/1.0"})
        assert response.status_code == 200
    sent = sentry_transport.everything_sent()
    (segment,) = [span for span in sentry_transport.spans if span["is_segment"]]
    attributes = segment["attributes"]
    assert segment["name"] == "/links/{token}"
    assert attributes["url.full"].startswith("http://")
    assert attributes["url.full"].endswith(f"/links/{FILTERED}")  # a sensitive route parameter, as events have it
    assert "page=2" in attributes["url.query"]
    assert "api_key=" in attributes["url.query"]
    assert attributes["user_agent.original"] == "probe/1.0"
    assert SECRET not in sent

"""An upstream call ends within EXTERNAL_API_TIMEOUT as a whole, and its failures name the upstream's host."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from app.core.config import Settings
from tests.support.db import closed_port

MakeSettings = Callable[..., Settings]
RESOURCE = "/api/v1/external/resources"
TIMEOUT_SECONDS = 0.5
# A byte every DRIP_SECONDS, well inside httpx's per-read timeout; the whole body takes BODY_SECONDS.
DRIP_SECONDS = 0.1
BODY = json.dumps({"id": "42", "padding": "x" * 20}).encode()
BODY_SECONDS = len(BODY) * DRIP_SECONDS


class DrippingUpstream:
    """An HTTP server on 127.0.0.1 that sends its headers at once, then its body one byte every DRIP_SECONDS."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> DrippingUpstream:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
            writer.write(head.encode())
            for index in range(len(BODY)):
                writer.write(BODY[index : index + 1])
                await writer.drain()
                await asyncio.sleep(DRIP_SECONDS)  # the upstream's pace, not a wait for the test
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[DrippingUpstream]:
    async with DrippingUpstream() as server:
        yield server


class TestUpstreamDrips:
    @pytest.fixture
    def settings(self, make_settings: MakeSettings, upstream: DrippingUpstream) -> Settings:
        return make_settings(
            EXTERNAL_API_BASE_URL=f"http://127.0.0.1:{upstream.port}", EXTERNAL_API_TIMEOUT=TIMEOUT_SECONDS
        )

    async def test_a_slow_body_ends_the_call_at_the_timeout(
        self, client: httpx.AsyncClient, upstream: DrippingUpstream
    ) -> None:
        started = time.perf_counter()

        response = await client.get(f"{RESOURCE}/42")

        elapsed = time.perf_counter() - started
        assert response.status_code == 503, response.text
        body = response.json()
        assert (body["error"], body["details"]["host"]) == ("EXTERNAL_SERVICE_ERROR", f"127.0.0.1:{upstream.port}")
        assert elapsed < BODY_SECONDS / 2


class TestUpstreamRefuses:
    @pytest.fixture
    def port(self) -> int:
        return closed_port()

    @pytest.fixture
    def settings(self, make_settings: MakeSettings, port: int) -> Settings:
        return make_settings(EXTERNAL_API_BASE_URL=f"http://user:hunter2@127.0.0.1:{port}/v1?key=abc")

    async def test_the_error_and_the_log_line_name_the_host_without_credentials(
        self, client: httpx.AsyncClient, log_stream: io.StringIO, port: int
    ) -> None:
        response = await client.get(f"{RESOURCE}/42")

        assert response.status_code == 503
        body = response.json()
        assert body["details"]["host"] == f"127.0.0.1:{port}"
        assert f"127.0.0.1:{port}" in body["message"]
        failed = [json.loads(line) for line in log_stream.getvalue().splitlines() if "external_call_failed" in line]
        assert [line["host"] for line in failed] == [f"127.0.0.1:{port}"]
        for secret in ("hunter2", "key=abc"):
            assert secret not in response.text + log_stream.getvalue()

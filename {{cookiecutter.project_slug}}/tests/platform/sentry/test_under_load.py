"""Sentry under an error storm: a full send queue never blocks a request (the limiter: test_limiter.py)."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

import pytest
import sentry_sdk

from app.core import sentry
from app.main import create_app
from tests.conftest import MakeSettings, open_client
from tests.support.sentry import reset_sentry

FULL_QUEUE_REQUESTS = 110  # more than the SDK's queue of 100: the first send hangs, the rest queue, then overflow
# Building an event takes milliseconds; a request that waited on a Sentry that never answers would take seconds.
REQUEST_LIMIT_SECONDS = 1.0
MEDIAN_LIMIT_SECONDS = 0.05


async def test_full_transport_queue_never_blocks_or_breaks_a_request(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sentry accepts connections and never answers: the SDK's queue fills and overflows; requests carry on.

    Each failing request costs the building of its event (milliseconds), never a wait on the network: a request
    that waited for the transport (a flush, a blocking put into the full queue) would take seconds.
    """
    with socket.create_server(("127.0.0.1", 0)) as black_hole:  # listens, never accepts, never answers
        port = black_hole.getsockname()[1]
        settings = make_settings(SENTRY_DSN=f"http://public@127.0.0.1:{port}/1", ENABLE_DEBUG_ROUTES=True)
        app = create_app(settings)
        monkeypatch.setattr(sentry.repeated_errors, "burst", 10_000)  # every error goes to the transport
        try:
            async for client in open_client(app):
                durations = []
                for _ in range(FULL_QUEUE_REQUESTS):
                    began = time.perf_counter()
                    response = await asyncio.wait_for(client.get("/sentry-debug"), timeout=REQUEST_LIMIT_SECONDS)
                    durations.append(time.perf_counter() - began)
                    # Checked at once: a handler that blocks the event loop cannot be cut short by wait_for.
                    assert durations[-1] < REQUEST_LIMIT_SECONDS, f"request {len(durations)} took {durations[-1]} s"
                    assert response.status_code == 500
                    assert response.json()["error"] == "INTERNAL_ERROR"
                assert (await client.get("/health/live")).status_code == 200
                assert statistics.median(durations) < MEDIAN_LIMIT_SECONDS, sorted(durations)[-10:]
        finally:
            sentry_sdk.get_client().close(timeout=0.1)
            reset_sentry()

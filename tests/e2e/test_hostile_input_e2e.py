"""Hostile input under a real uvicorn: 64 KB paths and headers built to make a regex backtrack are answered at
once, and a health probe running beside them is not held up (before the text rules were made linear, one such
request froze the worker for 12 to 17 seconds).

The service runs with Sentry on and every request traced, so the sampled transaction's URL and user agent go
through the scrubber too; a client forces that anyway with a `sentry-trace` header ending in `-1`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import summary_lines
from .recorder import EventRecorder
from .service import BakedService, RunningService, ServiceClient

# Built to backtrack: before the fix, every "a" could start a URL scheme that runs to the end of the text.
HOSTILE_PATH = "/x@://a" + "a." * 32_000
# A route's parameter (a 422, and a sent transaction): before the fix, every "eyJ" could start a JWT.
HOSTILE_ROUTE_PATH = "/api/v1/posts/" + "-eyJa" * 12_800
HOSTILE_AGENT = "x@://a" + "a." * 32_000
FORCE_SAMPLING = {"sentry-trace": "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1", "User-Agent": HOSTILE_AGENT}
ROUNDS = 10
# Generous for a loaded 2-core machine; a request that backtracked took seconds.
ANSWER_BOUND_SECONDS = 1.0
PROBE_BOUND_SECONDS = 1.0


@pytest.fixture
def served(baked_service: BakedService, sqlite_database: str, tmp_path: Path) -> Iterator[RunningService]:
    with (
        EventRecorder() as recorder,
        baked_service.run(
            tmp_path / "service", DATABASE_URL=sqlite_database, SENTRY_DSN=recorder.dsn, SENTRY_TRACES_SAMPLE_RATE="1"
        ) as service,
    ):
        yield service


def probe_until(url: str, stop: threading.Event, probing: threading.Event, latencies: list[float]) -> None:
    with ServiceClient(url, timeout=30) as client:
        while not stop.is_set():
            response = client.get("/health/live")
            assert response.status_code == 200
            latencies.append(response.elapsed)
            probing.set()
            time.sleep(0.005)


def test_hostile_paths_and_headers_are_answered_at_once_and_probes_are_not_held_up(served: RunningService) -> None:
    latencies: list[float] = []
    stop, probing = threading.Event(), threading.Event()
    prober = threading.Thread(target=probe_until, args=(served.url, stop, probing, latencies), daemon=True)
    prober.start()
    answers = []
    try:
        assert probing.wait(timeout=30)
        with ServiceClient(served.url, timeout=60) as client:
            for _ in range(ROUNDS):
                answers.append((HOSTILE_PATH, client.get(HOSTILE_PATH, headers={"User-Agent": HOSTILE_AGENT})))
                answers.append((HOSTILE_ROUTE_PATH, client.get(HOSTILE_ROUTE_PATH, headers=FORCE_SAMPLING)))
    finally:
        stop.set()
        prober.join(timeout=30)

    slowest = max(response.elapsed for _, response in answers)
    summary_lines.append(
        f"hostile input: {len(answers)} requests of {len(HOSTILE_PATH) // 1000} KB, slowest answered in"
        f" {slowest:.3f} s; {len(latencies)} health probes beside them, slowest {max(latencies):.3f} s"
    )
    assert [response.status_code for _, response in answers] == [404, 422] * ROUNDS
    assert all(response.json()["request_id"] for _, response in answers)
    assert slowest < ANSWER_BOUND_SECONDS
    assert max(latencies) < PROBE_BOUND_SECONDS
    assert served.process.poll() is None

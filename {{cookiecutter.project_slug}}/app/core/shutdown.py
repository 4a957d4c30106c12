"""Draining on SIGTERM: readiness answers 503 at once; the server begins its graceful stop when the drain ends."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import structlog

log = structlog.get_logger(__name__)


class Drain:
    """Whether this process has been asked to stop: from then on readiness fails, so balancers send no more."""

    def __init__(self) -> None:
        self.started = False


@contextmanager
def drain_on_sigterm(seconds: float) -> Iterator[Drain]:
    """While inside, SIGTERM starts draining and reaches the server's own handler ``seconds`` later.

    uvicorn installs its SIGTERM handler before the lifespan starts; it is called, not replaced, so its graceful
    shutdown (stop accepting, finish requests in flight, run the lifespan's shutdown) is unchanged, only later.
    Where no handler is installed (tests, a server outside the main thread) draining never starts.
    """
    drain = Drain()
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler) or threading.current_thread() is not threading.main_thread():
        yield drain
        return
    loop = asyncio.get_running_loop()

    def begin(signum: int) -> None:
        log.info("draining before shutdown", seconds=seconds)
        loop.call_later(seconds, server_handler, signum, None)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if drain.started:  # asked twice: stop now
            server_handler(signum, frame)
            return
        drain.started = True
        # A signal handler may interrupt the event loop anywhere: hand over through its thread-safe door.
        loop.call_soon_threadsafe(begin, signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield drain
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, server_handler)

"""Sentry wiring: what is captured, what is traced, and what never leaves the process."""

from __future__ import annotations

import linecache
import logging
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.argv import ArgvIntegration
from sentry_sdk.integrations.httpx import HttpxIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger

import app
from app.core.event_scrubbing import scrub_event, shape_breadcrumb, strip_to_safe_minimum

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport
    from sentry_sdk.types import Event, Hint, SamplingContext

    from app.core.config import Settings

# Only the service's own package is in-app: not library frames that resolve under the project folder.
APP_PACKAGE_DIR = f"{app.__path__[0]}{os.sep}"
HEALTH_PATH_PREFIX = "/health"
ACCESS_LOGGER = "app.access"

SOURCE_CONTEXT_LINES = 5
_SOURCE_LINE_MAX = 1024


def _source_line(line: str) -> str:
    return line.rstrip("\r\n")[:_SOURCE_LINE_MAX]


def add_source_context(event: Event) -> None:
    """Source lines around every frame, read through linecache (once per file per process).

    The SDK's own ``include_source_context`` re-reads and splits each frame's whole file for every event (FastAPI's
    routing.py is thousands of lines): most of the time it takes to build an error event.
    """
    for container in (event.get("exception") or {}).get("values") or []:
        for frame in (container.get("stacktrace") or {}).get("frames") or []:
            path, lineno = frame.get("abs_path"), frame.get("lineno")
            if not isinstance(path, str) or not isinstance(lineno, int) or "context_line" in frame:
                continue
            lines = linecache.getlines(path)
            if not 0 < lineno <= len(lines):
                continue
            index = lineno - 1
            frame["pre_context"] = [_source_line(line) for line in lines[max(0, index - SOURCE_CONTEXT_LINES) : index]]
            frame["context_line"] = _source_line(lines[index])
            frame["post_context"] = [_source_line(line) for line in lines[index + 1 : index + 1 + SOURCE_CONTEXT_LINES]]


def before_send(event: Event, hint: Hint) -> Event | None:
    """Scrub an error event; if scrubbing itself fails, send a stripped event instead of dropping it."""
    try:
        add_source_context(event)
        return scrub_event(event)
    except Exception:  # a scrubber bug must neither drop the event nor leak data
        return strip_to_safe_minimum(event)


def make_traces_sampler(rate: float) -> Callable[[SamplingContext], float]:
    """Never trace health checks; follow an upstream decision; otherwise sample at ``rate``."""

    def traces_sampler(context: SamplingContext) -> float:
        scope = context.get("asgi_scope") or {}
        if str(scope.get("path", "")).startswith(HEALTH_PATH_PREFIX):
            return 0.0
        parent = context.get("parent_sampled")
        if parent is not None:
            return 1.0 if parent else 0.0
        return rate

    return traces_sampler


def init_sentry(settings: Settings, *, transport: type[Transport] | Transport | None = None) -> bool:
    """Start the Sentry SDK for this process. Without a DSN (and no test transport) it does nothing."""
    if settings.SENTRY_DSN is None and transport is None:
        return False

    sentry_sdk.init(
        dsn=str(settings.SENTRY_DSN.get_secret_value()) if settings.SENTRY_DSN else None,
        transport=transport,
        environment=settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE,
        server_name=settings.SENTRY_SERVER_NAME,
        sample_rate=settings.SENTRY_ERROR_SAMPLE_RATE,
        traces_sampler=make_traces_sampler(settings.SENTRY_TRACES_SAMPLE_RATE),
        profiles_sample_rate=settings.SENTRY_PROFILES_SAMPLE_RATE,
        attach_stacktrace=True,
        # Release health's per-request session bookkeeping costs every request time; errors and traces do not need it.
        auto_session_tracking=False,
        include_local_variables=settings.SENTRY_INCLUDE_LOCALS,
        in_app_include=["app"],
        project_root=APP_PACKAGE_DIR,
        max_breadcrumbs=settings.SENTRY_MAX_BREADCRUMBS,
        before_breadcrumb=shape_breadcrumb,
        before_send=before_send,
        before_send_transaction=before_send,
        # Trace headers (with the public key, release and environment in baggage) go to the service's own hosts only.
        trace_propagation_targets=[
            rf"^https?://{re.escape(host)}(?::\d+)?(?:/|$)" for host in settings.SENTRY_TRACE_PROPAGATION_TARGETS
        ],
        # The command line can hold passwords (uvicorn --ssl-keyfile-password): it never leaves the process.
        disabled_integrations=[ArgvIntegration()],
        # Source lines are added by before_send from linecache: the SDK's own re-reads whole files per event.
        include_source_context=False,
        debug=settings.SENTRY_DEBUG,
        # Requests and SQL are instrumented by app.core.sentry_request (what the Starlette, FastAPI and SQLAlchemy
        # integrations do, at a fraction of their per-request cost); errors are captured by our own handlers alone.
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=None),
            HttpxIntegration(),
        ],
    )
    # Access lines would only repeat what the transaction already says.
    ignore_logger(ACCESS_LOGGER)
    # A new client starts with a clean slate (tests build many apps in one process).
    repeated_errors.reset()
    if not settings.SENTRY_DEBUG:
        # The SDK sets its own logger to DEBUG and filters later: skip building records nobody reads.
        logging.getLogger("sentry_sdk.errors").setLevel(logging.WARNING)
    return True


class RepeatedErrorLimiter:
    """Sends the first ``burst`` events of one error, then one every ``every`` seconds; counts the rest.

    "One error" is its type and the line that raised it. In an error storm (a dependency down, a bad deploy) every
    request raises the same exception: each event costs the request milliseconds to build, Sentry groups them into
    one issue anyway, and the SDK's queue (100 events) would drop most of them after they were built. The next
    event sent for that error carries how many were skipped (extra ``similar_errors_skipped``).
    """

    def __init__(self, burst: int = 10, every: float = 6.0, max_errors: int = 1024) -> None:
        self.burst, self.every, self.max_errors = burst, every, max_errors
        self._tokens: dict[tuple[str, str, int], tuple[float, float]] = {}
        self._skipped: dict[tuple[str, str, int], int] = {}

    def reset(self) -> None:
        self._tokens.clear()
        self._skipped.clear()

    @staticmethod
    def key(exc: BaseException) -> tuple[str, str, int]:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return (type(exc).__qualname__, "", 0)
        return (type(exc).__qualname__, tb.tb_frame.f_code.co_filename, tb.tb_lineno)

    def admit(self, exc: BaseException) -> tuple[bool, int]:
        """Whether to send this exception, and how many like it were skipped since the last one sent."""
        key, now = self.key(exc), time.monotonic()
        if key not in self._tokens and len(self._tokens) >= self.max_errors:
            self.reset()
        tokens, last = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.every)
        if tokens < 1.0:
            self._tokens[key] = (tokens, now)
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False, 0
        self._tokens[key] = (tokens - 1.0, now)
        return True, self._skipped.pop(key, 0)


repeated_errors = RepeatedErrorLimiter()


def set_request_user(user_id: str | int, *, email: str | None = None, settings: Settings) -> None:
    """Attach the authenticated user to this request's events: the id only, unless settings opt in to email."""
    user: dict[str, Any] = {"id": str(user_id)}
    if email is not None and settings.SENTRY_SEND_USER_EMAIL:
        user["email"] = email
    sentry_sdk.set_user(user)

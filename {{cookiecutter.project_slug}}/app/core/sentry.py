"""The one front door to Sentry: the SDK's set-up, and everything the rest of the service uses of it.

Use ``init_sentry`` once per process, ``report`` to send an error, ``set_request_user`` once a request knows
its user, and ``flush_sentry`` as a process's last step. The parts behind the door live in ``app/core/_sentry/``
and are imported from here only.

Units of work, each in a scope of its own, so that an unhandled exception is one event tied to it and nothing one
unit records reaches another's events:

- ``http``: ``sentry_request`` around each HTTP request (when sampled, a transaction, or a segment when streaming);
- ``websocket``: ``sentry_connection`` around each WebSocket connection;
- ``tasks``: ``spawn`` to start a background coroutine, ``reporting_escaped_errors`` for what escapes any task;
- ``lifespan``: ``sentry_startup`` around start-up;
- ``sql``: ``trace_queries`` on each engine (statements as breadcrumbs, spans inside a sampled transaction).
{%- if cookiecutter.include_worker == "yes" %}
- ``jobs``: ``sentry_job_middleware``, the broker's middleware that runs each background job as a unit of work
  (``crons`` checks scheduled runs in as Sentry Crons).
{%- endif %}

What every unit uses:

- ``capture``: one exception as one event (handled or not, the status and error code the client got);
- ``limiter``: the repeated-error limiter (``repeated_errors``);
- ``sampling``: the traces sampler and each trace's decision (``_asgi`` holds what ``http`` and ``websocket``
  read from an ASGI scope);
- ``breadcrumbs``, ``source_context`` and ``transport``: log lines as breadcrumbs, source lines around frames,
  and delivery that warns once when events do not arrive;
- ``logs``: every log line as a Sentry log, when ``SENTRY_ENABLE_LOGS`` is on; ``status``: the start-up line's fields;
- the redaction policy (``app.core.redaction``): every event, log and streamed span, in the SDK's ``before_send*``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.argv import ArgvIntegration
from sentry_sdk.integrations.httpx import HttpxIntegration

from app.core._sentry.breadcrumbs import shape_breadcrumb
from app.core._sentry.capture import report_once{{ ", report_unhandled" if cookiecutter.include_worker == "yes" }}
from app.core._sentry.http import sentry_request
{%- if cookiecutter.include_worker == "yes" %}
from app.core._sentry.jobs import JobMiddleware
{%- endif %}
from app.core._sentry.lifecycle import STREAM_ONLY, ignore_logger_for_breadcrumbs, logging_integration, sdk_options
from app.core._sentry.lifespan import sentry_startup
from app.core._sentry.limiter import repeated_errors
from app.core._sentry.logs import send_log_lines
from app.core._sentry.sampling import make_traces_sampler
from app.core._sentry.source_context import add_source_context
from app.core._sentry.sql import trace_queries
from app.core._sentry.status import sentry_status
from app.core._sentry.tasks import reporting_escaped_errors, spawn
from app.core._sentry.transport import WarnOnceTransport
from app.core._sentry.websocket import sentry_connection
from app.core.logging import ACCESS_LOGGER
from app.core.paths import APP_PACKAGE_DIR, is_health_path
from app.core.redaction import scrub_event, scrub_log, strip_to_safe_minimum

# How long a stopping process waits for Sentry to take what it holds (inside every grace period of deploy/k8s).
FLUSH_TIMEOUT_SECONDS = 2.0

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport
    from sentry_sdk.types import Event, Hint

    from app.core.config import Settings

__all__ = [
    "STREAM_ONLY",
    "before_send",
    "flush_sentry",
    "init_sentry",
    "make_traces_sampler",
    "repeated_errors",
    "report",
    "reporting_escaped_errors",
    "sentry_connection",
{%- if cookiecutter.include_worker == "yes" %}
    "sentry_job_middleware",
{%- endif %}
    "sentry_request",
    "sentry_startup",
    "sentry_status",
    "set_request_user",
    "spawn",
    "trace_queries",
]


def before_send(event: Event, hint: Hint) -> Event | None:
    """Scrub an error event; if scrubbing itself fails, send a stripped event instead of dropping it."""
{%- if cookiecutter.include_worker == "yes" %}
    if event.get("type") == "check_in":
        return event  # a Crons check-in: slug, status, duration and the schedule, nothing a scrubber could clean
{%- endif %}
    try:
        add_source_context(event)
        return scrub_event(event)
    except Exception:  # a scrubber bug must neither drop the event nor leak data
        return strip_to_safe_minimum(event)


def init_sentry(settings: Settings, *, transport: type[Transport] | Transport | None = None) -> bool:
    """Start the Sentry SDK for this process; return whether it is on. Off without a DSN (and no test transport)."""
    send_log_lines(enabled=False)
    if settings.SENTRY_DSN is None and transport is None:
        return False

    sentry_sdk.init(
        dsn=str(settings.SENTRY_DSN.get_secret_value()) if settings.SENTRY_DSN else None,
        transport=transport or WarnOnceTransport,
        environment=settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE,
        server_name=settings.SENTRY_SERVER_NAME,
        sample_rate=settings.SENTRY_ERROR_SAMPLE_RATE,
        # The sampler, what only one lifecycle takes (``SENTRY_TRACE_LIFECYCLE``: a transaction or spans) and what
        # sentry-sdk 3 renamed: frame locals (``SENTRY_INCLUDE_LOCALS``), source lines, the Sentry Logs switch.
        **sdk_options(settings, before_send_transaction=before_send),
        attach_stacktrace=True,
        # Release health's per-request session bookkeeping costs every request time; errors and traces do not need it.
        auto_session_tracking=False,
        in_app_include=["app"],
        project_root=APP_PACKAGE_DIR,
        max_breadcrumbs=settings.SENTRY_MAX_BREADCRUMBS,
        before_breadcrumb=shape_breadcrumb,
        before_send=before_send,
        # Trace headers (with the public key, release and environment in baggage) go to the service's own hosts only.
        trace_propagation_targets=[
            rf"^https?://{re.escape(host)}(?::\d+)?(?:/|$)" for host in settings.SENTRY_TRACE_PROPAGATION_TARGETS
        ],
        # The command line can hold passwords (uvicorn --ssl-keyfile-password): it never leaves the process.
        disabled_integrations=[ArgvIntegration()],
        debug=settings.SENTRY_DEBUG,
        # Requests and SQL are instrumented by sentry_request and trace_queries (what the Starlette, FastAPI and
        # SQLAlchemy integrations do, at a fraction of their per-request cost); errors are captured by report() alone.
        auto_enabling_integrations=False,
        # Log lines become Sentry logs through send_log_lines (fields as attributes), never the integration's own
        # path, which would send a structlog line as the repr of its dict.
        before_send_log=scrub_log,
        integrations=[logging_integration(), HttpxIntegration()],
    )
    send_log_lines(enabled=settings.SENTRY_ENABLE_LOGS, access_line=settings.SENTRY_LOGS_ACCESS_LINE)
    # Access lines would only repeat what the transaction already says.
    ignore_logger_for_breadcrumbs(ACCESS_LOGGER)
    # A new client starts with a clean slate (tests build many apps in one process).
    repeated_errors.reset()
    if not settings.SENTRY_DEBUG:
        # The SDK sets its own logger to DEBUG and filters later: skip building records nobody reads.
        logging.getLogger("sentry_sdk.errors").setLevel(logging.WARNING)
    return True


def flush_sentry() -> None:
    """Send what the SDK still holds, waiting at most ``FLUSH_TIMEOUT_SECONDS``: a process's last step."""
    sentry_sdk.flush(timeout=FLUSH_TIMEOUT_SECONDS)


def report(
    exc: BaseException,
    path: str = "",
    *,
    handled: bool = True,
    status_code: int | None = None,
    error_code: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str | None:
    """Send an exception to Sentry once; return its event's id, or None when it has none (Sentry off, a health
    probe, limited, sampled out). Reported again, the same exception returns the same answer and sends nothing.

    ``handled=False`` marks an exception the service did not raise on purpose; ``status_code``, ``error_code``
    and ``details`` say what the client got (see ``app.core._sentry.capture``). Repeats of one error beyond a small
    rate are counted, not sent: see ``app.core._sentry.limiter``.
    """
    if not sentry_sdk.get_client().is_active():
        # Without a client the SDK still builds the whole event (stack, locals, source lines) to throw it away.
        return None
    if is_health_path(path):
        return None
    return report_once(
        exc, repeated_errors.admit, handled=handled, status_code=status_code, error_code=error_code, details=details
    )


{% if cookiecutter.include_worker == "yes" -%}
def sentry_job_middleware() -> JobMiddleware:
    """The broker's middleware that runs each job as a unit of work (``app.core._sentry.jobs``)."""
    return JobMiddleware(report=report_unhandled)


{% endif -%}
def set_request_user(user_id: str | int, *, email: str | None = None, settings: Settings) -> None:
    """Attach the authenticated user to this request's events: the id only, unless settings opt in to email."""
    user: dict[str, Any] = {"id": str(user_id)}
    if email is not None and settings.SENTRY_SEND_USER_EMAIL:
        user["email"] = email
    sentry_sdk.set_user(user)

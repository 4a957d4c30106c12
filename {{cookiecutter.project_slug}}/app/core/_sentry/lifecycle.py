"""What depends on the SDK's major version and the trace lifecycle (``SENTRY_TRACE_LIFECYCLE``): the init options
each takes, which lifecycle the client runs, and ending a child span of either.

sentry-sdk 2 has two lifecycles, each with its own API, each warning when used in the other: ``static`` (one
transaction per traced request, the default) and ``stream`` (each span sent as it ends). sentry-sdk 3 streams only,
and renamed or removed the options the static lifecycle takes: ``sdk_options`` gives ``sentry_sdk.init`` the ones
of the SDK installed, so that moving to 3 is a change of pin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk import traces
from sentry_sdk.integrations import logging as sentry_logging

from app.core._sentry.sampling import make_traces_sampler
from app.core.redaction import scrub_span

if TYPE_CHECKING:
    from sentry_sdk.integrations import Integration
    from sentry_sdk.tracing import Span
    from sentry_sdk.types import Event, Hint

    from app.core.config import Settings

STREAM = "stream"
# sentry-sdk 3 has no transactions: spans are streamed whatever SENTRY_TRACE_LIFECYCLE says.
STREAM_ONLY = int(sentry_sdk.VERSION.partition(".")[0]) >= 3  # noqa: PLR2004  (the major that streams only)


def streaming() -> bool:
    """Whether spans are streamed rather than sent in one transaction each; asked once per unit of work."""
    return STREAM_ONLY or sentry_sdk.get_client().options.get("trace_lifecycle") == STREAM


def end_child(span: Span | traces.StreamedSpan, *, failed: bool = False) -> None:
    """End a child span (a statement's, an enqueue's) of either lifecycle, as an error when ``failed``."""
    if isinstance(span, traces.StreamedSpan):
        if failed:
            span.status = "error"
        span.end()
        return
    if failed:
        span.set_status("internal_error")
    span.finish()


def sdk_options(
    settings: Settings, *, before_send_transaction: Callable[[Event, Hint], Event | None]
) -> dict[str, Any]:
    """The init options that differ between the SDK's majors and lifecycles, for the settings and the SDK installed.

    Static: a transaction per traced request, scrubbed as events are, and transaction-based profiling. Stream:
    each span scrubbed as it ends (``scrub_span``), and a path no route matches turned down by the sampler (a
    started segment cannot be unsampled); transaction-based profiling has no effect there. Source lines are added by
    ``before_send`` from linecache (the SDK's own re-reads whole files per event), so the SDK adds none.
    """
    rate = settings.SENTRY_TRACES_SAMPLE_RATE
    if STREAM_ONLY:
        return {
            "traces_sampler": make_traces_sampler(rate, routed_only=True),
            "trace_lifecycle": STREAM,
            "before_send_span": scrub_span,
            # What the SDK itself collects: nothing about users, bodies, queries or queues (the redaction policy
            # sees everything sent all the same); frame locals only if asked.
            "data_collection": {
                "user_info": False,
                "http_bodies": [],
                "database_query_data": False,
                "queues": False,
                "stack_frame_variables": settings.SENTRY_INCLUDE_LOCALS,
                "frame_context_lines": 0,
            },
        }
    options: dict[str, Any] = {
        "include_local_variables": settings.SENTRY_INCLUDE_LOCALS,
        "include_source_context": False,
        "enable_logs": settings.SENTRY_ENABLE_LOGS,
    }
    if settings.SENTRY_TRACE_LIFECYCLE == STREAM:
        sampler = make_traces_sampler(rate, routed_only=True)
        return options | {"traces_sampler": sampler, "trace_lifecycle": STREAM, "before_send_span": scrub_span}
    return options | {
        "traces_sampler": make_traces_sampler(rate),
        "profiles_sample_rate": settings.SENTRY_PROFILES_SAMPLE_RATE,
        "before_send_transaction": before_send_transaction,
    }


def logging_integration() -> Integration:
    """Standard-library records as breadcrumbs only: never as events (``report`` captures errors) and never through
    the integration's own Sentry Logs path (``logs.send_log_lines`` sends log lines, fields as attributes)."""
    levels: dict[str, int | None] = (
        # sentry-sdk 3: ``level`` is the Sentry Logs level, breadcrumbs have their own.
        {"level": None, "event_level": None, "breadcrumb_level": logging.INFO}
        if STREAM_ONLY
        else {"level": logging.INFO, "event_level": None, "sentry_logs_level": None}
    )
    return sentry_logging.LoggingIntegration(**levels)


def ignore_logger_for_breadcrumbs(name: str) -> None:
    """Keep a logger's records out of breadcrumbs (and events): sentry-sdk 3 renamed 2's ``ignore_logger`` so."""
    ignore = getattr(sentry_logging, "ignore_logger_for_events", None) or sentry_logging.ignore_logger
    ignore(name)

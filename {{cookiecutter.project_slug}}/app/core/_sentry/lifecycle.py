"""The trace lifecycle (``SENTRY_TRACE_LIFECYCLE``): the init options each takes, which one the client runs, and
ending a child span of either."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk import traces

from app.core._sentry.sampling import make_traces_sampler
from app.core.redaction import scrub_span

if TYPE_CHECKING:
    from sentry_sdk.tracing import Span
    from sentry_sdk.types import Event, Hint

    from app.core.config import Settings

STREAM = "stream"


def streaming() -> bool:
    """Whether spans are streamed (``SENTRY_TRACE_LIFECYCLE=stream``) rather than sent in one transaction each.

    Each lifecycle has its own API, and each warns when used in the other, so a unit asks this once per unit of work.
    """
    return sentry_sdk.get_client().options.get("trace_lifecycle") == STREAM


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


def lifecycle_options(
    settings: Settings, *, before_send_transaction: Callable[[Event, Hint], Event | None]
) -> dict[str, Any]:
    """The traces sampler and the init options of the settings' lifecycle, none of the other's (sentry-sdk 2 warns
    about those).

    Static: a transaction per traced request, scrubbed as events are, and transaction-based profiling. Stream:
    each span scrubbed as it ends (``scrub_span``), and a path no route matches turned down by the sampler (a
    started segment cannot be unsampled); transaction-based profiling has no effect there.
    """
    rate = settings.SENTRY_TRACES_SAMPLE_RATE
    if settings.SENTRY_TRACE_LIFECYCLE == STREAM:
        sampler = make_traces_sampler(rate, routed_only=True)
        return {"traces_sampler": sampler, "trace_lifecycle": STREAM, "before_send_span": scrub_span}
    return {
        "traces_sampler": make_traces_sampler(rate),
        "profiles_sample_rate": settings.SENTRY_PROFILES_SAMPLE_RATE,
        "before_send_transaction": before_send_transaction,
    }

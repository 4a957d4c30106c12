"""The redaction policy (``app.core.redaction``) applied to streamed spans: the SDK's ``before_send_span`` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.redaction._sentry_logs import scrub_attribute
from app.core.redaction._values import redact_text

if TYPE_CHECKING:
    from sentry_sdk.types import Hint, SpanJSON

# sentry-sdk puts sys.argv on every segment, ArgvIntegration or not; a command line can hold passwords
# (uvicorn --ssl-keyfile-password).
COMMAND_ARGS = "process.command_args"
# The span's name when scrubbing it failed: the SDK sends the original span if the hook raises, so it never does.
UNSCRUBBED_NAME = "<span not scrubbed>"
# What a span keeps when scrubbing fails: the SDK's own bookkeeping, which never holds a request's data.
_SAFE_PREFIXES = (
    *("sentry.sdk.", "sentry.environment", "sentry.release", "sentry.origin", "sentry.op", "sentry.platform"),
    *("sentry.segment.id", "sentry.segment.name.source", "sentry.trace_lifecycle", "sentry.profiler_id"),
)


def scrub_span(span: SpanJSON, _: Hint) -> SpanJSON:
    """A span with its name and every attribute through the policy, and without the process's command line.

    Never raises, and never returns None (the SDK would then send the span as it was): a span the policy cannot
    clean keeps only the SDK's own attributes and a placeholder name.
    """
    try:
        attributes: dict[str, Any] = dict(span.get("attributes") or {})
        attributes.pop(COMMAND_ARGS, None)
        span["attributes"] = {key: scrub_attribute(key, value) for key, value in attributes.items()}
        span["name"] = redact_text(str(span.get("name") or ""))
    except Exception:
        return _stripped(span)
    return span


def _stripped(span: SpanJSON) -> SpanJSON:
    try:
        attributes = span.get("attributes") or {}
        safe = {key: value for key, value in attributes.items() if str(key).startswith(_SAFE_PREFIXES)}
    except Exception:
        safe = {}
    try:
        span["attributes"] = safe
        span["name"] = UNSCRUBBED_NAME
    except Exception:  # not even a dict: the SDK keeps the span's own name and attributes, so give it new ones
        return {"name": UNSCRUBBED_NAME, "attributes": {}}  # type: ignore[typeddict-item]
    return span

"""How a log line becomes a Sentry breadcrumb: its event text as the message, its fields as data."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint

# Keys of a log line that are bookkeeping, not data, when it becomes a breadcrumb.
_LOG_META_KEYS = frozenset({"event", "level", "logger", "timestamp", "exc_info", "stack_info", "_record"})
_LOG_META_KEYS |= {"_from_structlog", "positional_args"}
# The request's ids are the event's own tag and trace context; uvicorn's ``color_message`` repeats a record's
# message with terminal colour codes. Neither says anything in a breadcrumb.
_REPEATED_KEYS = frozenset({"request_id", "trace_id", "span_id", "color_message"})


def shape_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """A log line as a breadcrumb: a structlog line's event text as the message and its fields as data, not a dict
    repr; for every log line, data without the request's ids or uvicorn's coloured copy of the message.

    Breadcrumbs are scrubbed with the event that carries them (``scrub_event``), not here, as every log line
    becomes one.
    """
    record = hint.get("log_record") if hint else None
    if record is None:  # not a log line (an HTTP call, a query): left as the SDK made it
        return crumb
    data = crumb.get("data") or {}  # a stdlib record's extras, uvicorn's color_message among them
    if isinstance(record.msg, dict):
        crumb["message"] = str(record.msg.get("event", ""))
        data = {**data, **{key: value for key, value in record.msg.items() if key not in _LOG_META_KEYS}}
    crumb["data"] = {key: value for key, value in data.items() if key not in _REPEATED_KEYS}
    return crumb

"""How a log line becomes a Sentry breadcrumb: its event text as the message, its fields as data."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint

# Keys of a structlog event dict that are bookkeeping, not data, when a log line becomes a breadcrumb.
_LOG_META_KEYS = frozenset({"event", "level", "logger", "timestamp", "exc_info", "stack_info", "_record"})
_LOG_META_KEYS |= {"_from_structlog", "positional_args"}


def shape_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """A structlog line as a breadcrumb: its event text as the message and its fields as data, not a dict repr.

    Breadcrumbs are scrubbed with the event that carries them (``scrub_event``), not here, as every log line
    becomes one.
    """
    record = hint.get("log_record") if hint else None
    fields = getattr(record, "msg", None)
    if isinstance(fields, dict):
        crumb["message"] = str(fields.get("event", ""))
        data = {key: value for key, value in fields.items() if key not in _LOG_META_KEYS}
        crumb["data"] = {**crumb.get("data", {}), **data}
    return crumb

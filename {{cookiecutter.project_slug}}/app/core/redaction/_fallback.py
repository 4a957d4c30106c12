"""What an event keeps when scrubbing it fails as a whole: the parts that cannot hold a secret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.redaction._server_rules import event_frames
from app.core.redaction._values import redact

if TYPE_CHECKING:
    from sentry_sdk.types import Event

_SAFE_KEYS = ("event_id", "timestamp", "level", "platform", "environment", "release", "server_name", "sdk", "type")
_SAFE_FRAME_KEYS = ("filename", "function", "lineno", "module", "in_app")


def strip_to_safe_minimum(event: Event) -> Event:
    """When scrubbing fails as a whole, send what cannot hold a secret rather than nothing or everything."""
    safe: dict[str, Any] = {key: event[key] for key in _SAFE_KEYS if key in event}  # type: ignore[literal-required]
    safe["transaction"] = redact(event.get("transaction"))
    safe["start_timestamp"] = event.get("start_timestamp")
    exception = event.get("exception")
    raw_values = exception.get("values") if isinstance(exception, dict) else None
    values = [
        {
            "type": value.get("type"),
            "stacktrace": {"frames": [{k: f[k] for k in _SAFE_FRAME_KEYS if k in f} for f in event_frames(value)]},
        }
        for value in (raw_values if isinstance(raw_values, list) else [])
        if isinstance(value, dict)
    ]
    if values:
        safe["exception"] = {"values": values}
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    if isinstance(trace, dict):
        safe["contexts"] = {"trace": {k: trace[k] for k in ("trace_id", "span_id", "op") if k in trace}}
    tags = redact(event.get("tags"))
    safe["tags"] = {**(tags if isinstance(tags, dict) else {}), "scrubbing_failed": "true"}
    return {key: value for key, value in safe.items() if value is not None}  # type: ignore[return-value]

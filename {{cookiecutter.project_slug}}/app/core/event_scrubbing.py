"""Applies the redaction policy (``app.core.redaction``) to every part of a Sentry event before it is sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.redaction import FILTERED, is_sensitive_key, redact, redact_path, redact_text

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event

# Keys of a structlog event dict that are bookkeeping, not data, when a log line becomes a breadcrumb.
_LOG_META_KEYS = frozenset({"event", "level", "logger", "timestamp", "exc_info", "stack_info", "_record"})
_LOG_META_KEYS |= {"_from_structlog", "positional_args"}


def _text(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else redact(value)


def _frames(container: Any) -> list[dict[str, Any]]:
    stacktrace = container.get("stacktrace") if isinstance(container, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [frame for frame in frames if isinstance(frame, dict)] if isinstance(frames, list) else []


def _scrub_exceptions(event: Event) -> None:
    """Every exception of a chain (and every thread): its message, and the locals of the service's own frames."""
    for section in ("exception", "threads"):
        container = event.get(section)
        values = container.get("values") if isinstance(container, dict) else None
        for value in values if isinstance(values, list) else []:
            if not isinstance(value, dict):
                continue
            if "value" in value:
                value["value"] = _text(value["value"])
            for frame in _frames(value):
                if "vars" not in frame:
                    continue
                if frame.get("in_app"):
                    frame["vars"] = redact(frame["vars"])
                else:  # library locals hold raw requests and SQL, and say little to a service author
                    del frame["vars"]


def _scrub_request(event: Event) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for key in ("query_string", "headers", "cookies", "data", "env"):
        if key in request:
            request[key] = _text(request[key])
    url = request.get("url")
    if isinstance(url, str):
        route = event.get("transaction")
        source = (event.get("transaction_info") or {}).get("source")
        if isinstance(route, str) and source == "route" and "{" in route and "://" in url:
            scheme, _, rest = url.partition("://")
            host, slash, path = rest.partition("/")
            url = f"{scheme}://{host}{redact_path(slash + path, route)}"
        request["url"] = redact_text(url)


def _scrub_breadcrumbs(event: Event) -> None:
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else None
    for crumb in values if isinstance(values, list) else []:
        if isinstance(crumb, dict):
            for key in ("message", "data"):
                if key in crumb:
                    crumb[key] = _text(crumb[key])


def _scrub_spans(event: Event) -> None:
    spans = event.get("spans")
    for span in spans if isinstance(spans, list) else []:
        if isinstance(span, dict):
            for key in ("description", "data", "tags"):
                if key in span:
                    span[key] = _text(span[key])


def _scrub_extra(event: Event) -> None:
    extra = event.get("extra")
    if isinstance(extra, dict):
        extra.pop("sys.argv", None)  # command lines carry passwords (--ssl-keyfile-password): never sent
    event["extra"] = redact(extra)


def _scrub_tags(event: Event) -> None:
    tags: Any = event.get("tags")
    if isinstance(tags, list):  # [[name, value], ...]
        event["tags"] = redact(tags)
    elif isinstance(tags, dict):
        event["tags"] = {name: FILTERED if is_sensitive_key(name) else _text(v) for name, v in tags.items()}


def _scrub_field(key: str) -> Callable[[Event], None]:
    def scrub(event: Event) -> None:
        if key in event:
            event[key] = _text(event[key])  # type: ignore[literal-required]

    return scrub


_SECTIONS: dict[str, Callable[[Event], None]] = {
    "exception": _scrub_exceptions,
    "request": _scrub_request,
    "breadcrumbs": _scrub_breadcrumbs,
    "spans": _scrub_spans,
    "extra": _scrub_extra,
    "tags": _scrub_tags,
    **{key: _scrub_field(key) for key in ("message", "logentry", "user", "contexts", "transaction")},
}


def scrub_event(event: Event) -> Event:
    """Scrub an event or transaction in place; a part that cannot be scrubbed is dropped, never sent as is."""
    for section, scrub in _SECTIONS.items():
        try:
            scrub(event)
        except Exception:  # one malformed part costs that part, not the event
            logging.getLogger(__name__).warning("could not scrub the event's %s: dropped it", section)
            event.pop(section, None)  # type: ignore[misc]
            event.setdefault("tags", {})["scrubbing_failed"] = "true"
    return event


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
            "stacktrace": {"frames": [{k: f[k] for k in _SAFE_FRAME_KEYS if k in f} for f in _frames(value)]},
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

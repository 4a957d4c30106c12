"""The policy on every part of a Sentry event, one function per part in ``_SECTIONS``, then the server's rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.redaction._names import is_sensitive_key
from app.core.redaction._server_rules import event_frames, event_values, scrub_as_sentry_would
from app.core.redaction._text import FILTERED
from app.core.redaction._values import redact, redact_text

if TYPE_CHECKING:
    from sentry_sdk.types import Event

# A route parameter's value shorter than this is not searched for elsewhere in the event ("/users/{pin}/1").
_MIN_PATH_SECRET = 4
_MAX_DEPTH = 40


def _text(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else redact(value)


def _scrub_exceptions(event: Event, section: str = "exception") -> None:
    """Every exception of a chain (or every thread): its message, and the locals of the service's own frames."""
    for value in event_values(event, section):
        if "value" in value:
            value["value"] = _text(value["value"])
        for frame in event_frames(value):
            if "vars" not in frame:
                continue
            if frame.get("in_app"):
                frame["vars"] = redact(frame["vars"])
            else:  # library locals hold raw requests and SQL, and say little to a service author
                del frame["vars"]


def _path_secrets(event: Event) -> set[str]:
    """The values that route parameters with sensitive names (``/reset/{token}``) took in this request's URL."""
    request = event.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    env = request.get("env") if isinstance(request, dict) else None
    route = event.get("transaction")
    if not (isinstance(url, str) and isinstance(route, str) and "{" in route and "://" in url):
        return set()
    root = str(env.get("SCRIPT_NAME", "")) if isinstance(env, dict) else ""  # the root path: --root-path /svc
    segments = url.partition("://")[2].partition("?")[0].split("/")[1 + root.count("/") :]  # the route's below it
    return _route_secrets(segments, route)


def redact_route_path(path: str, route: str) -> str:
    """A request's path (below the root path) with the values of its route's sensitive parameters filtered."""
    secrets = _route_secrets(path.split("/")[1:], route) if "{" in route else set()
    return str(_replace_everywhere(path, secrets)) if secrets else path


def _route_secrets(segments: list[str], route: str) -> set[str]:
    secrets = set()
    for index, name in enumerate(route.split("/")[1:]):
        param, _, converter = name.strip("{}").partition(":")
        if name.startswith("{") and is_sensitive_key(param) and index < len(segments):
            # A ":path" parameter matched the rest of the path.
            secrets.add("/".join(segments[index:]) if converter == "path" else segments[index])
    return {secret for secret in secrets if len(secret) >= _MIN_PATH_SECRET}


def _replace_everywhere(value: Any, secrets: set[str], depth: int = 0) -> Any:
    """Every occurrence of these exact strings, wherever the request's path was copied (frame locals, spans)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, FILTERED)
        return value
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: _replace_everywhere(item, secrets, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_everywhere(item, secrets, depth + 1) for item in value]
    return value


def _scrub_request(event: Event) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for key in ("query_string", "headers", "cookies", "data", "env", "url"):
        if key in request:
            request[key] = _text(request[key])


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
    "threads": lambda event: _scrub_exceptions(event, "threads"),
    "request": _scrub_request,
    "breadcrumbs": _scrub_breadcrumbs,
    "spans": _scrub_spans,
    "extra": _scrub_extra,
    "tags": _scrub_tags,
    **{key: _scrub_field(key) for key in ("message", "logentry", "user", "contexts", "transaction")},
    "the server's rules": scrub_as_sentry_would,
}


def scrub_event(event: Event) -> Event:
    """Scrub an event or transaction in place; a part that cannot be scrubbed is dropped, never sent as is."""
    try:
        path_secrets = _path_secrets(event)
    except Exception:
        path_secrets = set()
    for section, scrub in _SECTIONS.items():
        try:
            scrub(event)
            if path_secrets and section in event:
                event[section] = _replace_everywhere(event[section], path_secrets)  # type: ignore[literal-required]
        except Exception:  # one malformed part costs that part, not the event
            logging.getLogger(__name__).warning("could not scrub the event's %s: dropped it", section)
            event.pop(section, None)  # type: ignore[misc]
            event.setdefault("tags", {})["scrubbing_failed"] = "true"
    return event

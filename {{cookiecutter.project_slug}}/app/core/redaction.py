"""What never leaves the process: the rules that find secrets in keys, URLs and text, applied to Sentry events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

if TYPE_CHECKING:
    from sentry_sdk.types import Event

FILTERED = "[Filtered]"

# Key names are compared after lower-casing and turning "-" into "_", as whole words of the name:
# "new_password", "x_api_key" and "refresh_token" match; "author" and "tokenizer_name" do not.
_SENSITIVE_KEY = re.compile(
    r"(?:^|_)(?:pass(?:word|wd|phrase)?|pwd|secret|token|api_?key|apikey|auth|authorization|cookie|"
    r"set_cookie|session(?:id)?|credentials?|csrf(?:token)?|xsrf|private_?key|signature|dsn|"
    r"card_?number|cardnumber|pan|cvv|cvc|ssn|iban)(?:$|_)"
)
_SENSITIVE_EXACT = frozenset(key.lower().replace("-", "_") for key in DEFAULT_DENYLIST + DEFAULT_PII_DENYLIST)
# Card-like digit runs in free text (13-19 digits, optionally grouped).
_CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def is_sensitive_key(key: object) -> bool:
    """Whether a mapping key names a secret (headers, cookies, query and body fields, locals)."""
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    if not isinstance(key, str):
        return False
    normalized = key.lower().replace("-", "_")
    normalized = _unwrap_bytes_repr(normalized)  # bytes as the SDK serializes them, e.g. ASGI header names
    return normalized in _SENSITIVE_EXACT or _SENSITIVE_KEY.search(normalized) is not None


class ServiceEventScrubber(EventScrubber):
    """sentry-sdk's EventScrubber, matching key names as words instead of exact strings, at any depth."""

    def __init__(self) -> None:
        super().__init__(recursive=True)

    def scrub_dict(self, d: object) -> None:
        if not isinstance(d, dict):
            return
        for key, value in d.items():
            if is_sensitive_key(key):
                d[key] = FILTERED
            else:
                self.scrub_dict(value)
                self.scrub_list(value)


def scrub_query_string(query: str) -> str:
    """Replace the value of every sensitive parameter of a query string."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(key, FILTERED if is_sensitive_key(key) else value) for key, value in pairs], safe="[]")


def scrub_url(url: str) -> str:
    """Scrub a URL's query string and any user:password part."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, scrub_query_string(parts.query), ""))


def _unwrap_bytes_repr(text: str) -> str:
    return text[2:-1] if text[:2] in ("b'", 'b"') and text[-1:] in ("'", '"') else text


def _scrub_item(key: object, item: Any) -> Any:
    if is_sensitive_key(key):
        return FILTERED
    if key in ("query_string", "http.query") and isinstance(item, str | bytes):
        text = item.decode("latin-1") if isinstance(item, bytes) else _unwrap_bytes_repr(item)
        return scrub_query_string(text)
    if key == "url" and isinstance(item, str):
        return scrub_url(item)
    return _scrub_value(item)


def _scrub_value(value: Any) -> Any:
    """Recursively scrub by key; URLs and query strings by parameter; card numbers in text."""
    if isinstance(value, Mapping):
        return {key: _scrub_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and is_sensitive_key(value[0]):  # noqa: PLR2004  (a (name, value) pair, e.g. a header)
            return [value[0], FILTERED]
        return [_scrub_value(item) for item in value]
    if isinstance(value, str):
        return _CARD_NUMBER.sub(FILTERED, value)
    return value


def _scrub_request(request: dict[str, Any]) -> None:
    if "data" in request:
        request["data"] = _scrub_value(request["data"])
    if isinstance(request.get("query_string"), str):
        request["query_string"] = scrub_query_string(request["query_string"])
    if isinstance(request.get("url"), str):
        request["url"] = scrub_url(request["url"])


def _scrub_http_data(data: dict[str, Any]) -> None:
    """httpx spans keep the URL and query string of each outgoing call."""
    if isinstance(data.get("url"), str):
        data["url"] = scrub_url(data["url"])
    if isinstance(data.get("http.query"), str):
        data["http.query"] = scrub_query_string(data["http.query"])


def _scrub_breadcrumbs(event: Event) -> None:
    """Breadcrumbs leave the process only inside events: scrubbed here once, not as each one is recorded."""
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values", []) if isinstance(crumbs, dict) else []
    for crumb in values:
        if not isinstance(crumb, dict):
            continue
        data = crumb.get("data")
        if isinstance(data, dict):
            crumb["data"] = _scrub_value(data)  # by key, with "url" and "http.query" as URLs and query strings
        message = crumb.get("message")
        if isinstance(message, str):
            crumb["message"] = _CARD_NUMBER.sub(FILTERED, message)


def _scrub_spans(event: Event) -> None:
    spans = event.get("spans")
    for span in spans if isinstance(spans, list) else []:
        data = span.get("data") if isinstance(span, dict) else None
        if isinstance(data, dict):
            _scrub_http_data(data)


def _scrub_frames(event: Event) -> None:
    """Keep locals of the service's own frames (scrubbed); drop library locals, which hold raw requests and SQL."""
    containers = [
        *((event.get("exception") or {}).get("values") or []),
        *((event.get("threads") or {}).get("values") or []),
    ]
    for container in containers:
        for frame in (container.get("stacktrace") or {}).get("frames") or []:
            if "vars" not in frame:
                continue
            if frame.get("in_app"):
                frame["vars"] = _scrub_value(frame["vars"])
            else:
                del frame["vars"]


def scrub_event(event: Event) -> Event:
    """What EventScrubber never touches: query strings, URLs, contexts, extra and free-text card numbers."""
    _scrub_frames(event)
    request = event.get("request")
    if isinstance(request, dict):
        _scrub_request(request)
    _scrub_breadcrumbs(event)
    _scrub_spans(event)
    for key in ("extra", "user"):
        if key in event:
            event[key] = _scrub_value(event[key])
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        # The trace context is ids only, and must stay intact to link events with log lines.
        event["contexts"] = {
            name: value if name == "trace" else _scrub_value(value) for name, value in contexts.items()
        }
    if isinstance(event.get("message"), str):
        event["message"] = _CARD_NUMBER.sub(FILTERED, event["message"])
    if isinstance(event.get("logentry"), dict):
        event["logentry"] = _scrub_value(event["logentry"])
    return event


def strip_to_safe_minimum(event: Event) -> Event:
    """When scrubbing fails, send what cannot hold a secret rather than nothing or everything."""
    safe_keys = (
        "event_id",
        "timestamp",
        "level",
        "platform",
        "environment",
        "release",
        "server_name",
        "transaction",
        "tags",
        "sdk",
        "type",
        "start_timestamp",
    )
    safe: dict[str, Any] = {key: event[key] for key in safe_keys if key in event}  # type: ignore[literal-required]
    exception = event.get("exception")
    raw_values = exception.get("values") if isinstance(exception, dict) else None
    values = []
    for value in raw_values if isinstance(raw_values, list) else []:
        if not isinstance(value, dict):
            continue
        stacktrace = value.get("stacktrace")
        raw_frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        frames = [
            {key: frame[key] for key in ("filename", "function", "lineno", "module", "in_app") if key in frame}
            for frame in (raw_frames if isinstance(raw_frames, list) else [])
            if isinstance(frame, dict)
        ]
        values.append({"type": value.get("type"), "stacktrace": {"frames": frames}})
    if values:
        safe["exception"] = {"values": values}
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    if isinstance(trace, dict):
        safe["contexts"] = {"trace": {k: trace[k] for k in ("trace_id", "span_id", "op") if k in trace}}
    tags = safe.get("tags")
    safe["tags"] = {**(tags if isinstance(tags, dict) else {}), "scrubbing_failed": "true"}
    return safe  # type: ignore[return-value]

"""What Sentry's server scrubs from an event by default, applied before the event leaves the process.

Relay's default data-scrubbing rules ("@common") wipe whole strings that the redaction policy
(``app.core.redaction``) would only partly redact, and a few kinds of value it leaves alone. Applying them here
as a last step means nothing leaves the process that the server would have to clean, and the event Sentry
stores is the event that was sent.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.core.redaction._text import FILTERED, cap_text
from app.core.redaction._values import ShortTextCache

if TYPE_CHECKING:
    from sentry_sdk.types import Event

_MAX_DEPTH = 40
# A string that names a password-like word or holds a bearer token, a US SSN, a PEM key or URL credentials is
# replaced whole; an IPv4 address becomes "[ip]". Like Sentry's server, this leaves exception messages (the
# policy's own rules cover them), function names, source lines, file paths and routes alone. Card numbers are
# left to the policy's Luhn rule: Relay also removes 16-digit numbers that merely start like a card. Written to be
# linear, as the policy's rules are: "token" then ":" or "=" in the same word is looked for from the word's start,
# once (an atomic group), and a URL's scheme only where a run of scheme characters starts.
_SERVER_FILTER = re.compile(
    r"(?i)password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key"
    r"|(?<![^\s:=])(?>[^\s:=]*?token)[^\s:=]*+[:=]|^otp$|^two[-_]factor$|\bbearer\s+\S"
    r"|-----BEGIN[A-Z ]{1,40}(?:PRIVATE|PUBLIC) KEY-----"
    r"|(?:(?<![a-z0-9+-])[a-z0-9+-]++:|\b)//[a-z0-9%_.-]++(?::[a-z0-9%_.-]++)?@|\b\d{3}-\d{2}-\d{4}\b"
)
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\b")
# Inside the parts the server scrubs, the keys it leaves alone.
_SERVER_SKIPPED_KEYS = frozenset({"User-Agent", "user-agent"})
_SERVER_KEPT_REQUEST_KEYS = frozenset({"query_string", "url"})


def event_values(event: Event, section: str) -> list[dict[str, Any]]:
    """The exceptions of a chain (``section="exception"``) or the threads of an event."""
    container: Any = event.get(section)
    values = container.get("values") if isinstance(container, dict) else None
    return [value for value in values if isinstance(value, dict)] if isinstance(values, list) else []


def event_frames(container: Any) -> list[dict[str, Any]]:
    """The stack frames of one exception or thread."""
    stacktrace = container.get("stacktrace") if isinstance(container, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [frame for frame in frames if isinstance(frame, dict)] if isinstance(frames, list) else []


def _server_string(value: str) -> str:
    """One string as the server would leave it."""
    if value == FILTERED:
        return value
    value = cap_text(value)
    return FILTERED if _SERVER_FILTER.search(value) else _IPV4.sub("[ip]", value)


_server_remembered = ShortTextCache(_server_string)


def _server_floor(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _server_remembered(value)
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            key: item if key in _SERVER_SKIPPED_KEYS else _server_floor(item, depth + 1) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_server_floor(item, depth + 1) for item in value]
    return value


def scrub_as_sentry_would(event: Event) -> None:
    """The server-side rules, on the parts of an event Sentry's server scrubs (not names of functions or routes)."""
    for key in ("extra", "contexts", "user", "tags", "server_name"):
        if key in event:
            event[key] = _server_floor(event[key])
    request: Any = event.get("request")
    if isinstance(request, dict):
        # The server reads the query string as name/value pairs, whose sensitive names the policy has filtered, and
        # leaves the URL as it is (the service's own address stays readable; the policy has redacted the rest).
        event["request"] = {k: v if k in _SERVER_KEPT_REQUEST_KEYS else _server_floor(v) for k, v in request.items()}
    crumbs: Any = event.get("breadcrumbs")
    spans: Any = event.get("spans")
    items = [
        *((crumbs.get("values") if isinstance(crumbs, dict) else None) or []),
        *(spans if isinstance(spans, list) else []),
        *(
            frame
            for section in ("exception", "threads")
            for value in event_values(event, section)
            for frame in event_frames(value)
        ),
    ]
    for item in items:
        if isinstance(item, dict):
            for key in ("message", "data", "description", "vars"):
                if key in item:
                    item[key] = _server_floor(item[key])

"""Sentry wiring: what is captured, what is traced, and what never leaves the process."""

from __future__ import annotations

import linecache
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sentry_sdk
from sentry_sdk.integrations.httpx import HttpxIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport
    from sentry_sdk.types import Event, Hint, SamplingContext

    from app.core.config import Settings

FILTERED = "[Filtered]"
HEALTH_PATH_PREFIX = "/health"
ACCESS_LOGGER = "app.access"

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


SOURCE_CONTEXT_LINES = 5
_SOURCE_LINE_MAX = 1024


def _source_line(line: str) -> str:
    return line.rstrip("\r\n")[:_SOURCE_LINE_MAX]


def add_source_context(event: Event) -> None:
    """Source lines around every frame, read through linecache (once per file per process).

    The SDK's own ``include_source_context`` re-reads and splits each frame's whole file for every event (FastAPI's
    routing.py is thousands of lines): most of the time it takes to build an error event.
    """
    for container in (event.get("exception") or {}).get("values") or []:
        for frame in (container.get("stacktrace") or {}).get("frames") or []:
            path, lineno = frame.get("abs_path"), frame.get("lineno")
            if not isinstance(path, str) or not isinstance(lineno, int) or "context_line" in frame:
                continue
            lines = linecache.getlines(path)
            if not 0 < lineno <= len(lines):
                continue
            index = lineno - 1
            frame["pre_context"] = [_source_line(line) for line in lines[max(0, index - SOURCE_CONTEXT_LINES) : index]]
            frame["context_line"] = _source_line(lines[index])
            frame["post_context"] = [_source_line(line) for line in lines[index + 1 : index + 1 + SOURCE_CONTEXT_LINES]]


def before_send(event: Event, hint: Hint) -> Event | None:
    """Scrub an error event; if scrubbing itself fails, send a stripped event instead of dropping it."""
    try:
        add_source_context(event)
        return scrub_event(event)
    except Exception:  # a scrubber bug must neither drop the event nor leak data
        return strip_to_safe_minimum(event)


def make_traces_sampler(rate: float) -> Callable[[SamplingContext], float]:
    """Never trace health checks; follow an upstream decision; otherwise sample at ``rate``."""

    def traces_sampler(context: SamplingContext) -> float:
        scope = context.get("asgi_scope") or {}
        if str(scope.get("path", "")).startswith(HEALTH_PATH_PREFIX):
            return 0.0
        parent = context.get("parent_sampled")
        if parent is not None:
            return 1.0 if parent else 0.0
        return rate

    return traces_sampler


def init_sentry(settings: Settings, *, transport: type[Transport] | Transport | None = None) -> bool:
    """Start the Sentry SDK for this process. Without a DSN (and no test transport) it does nothing."""
    if settings.SENTRY_DSN is None and transport is None:
        return False

    sentry_sdk.init(
        dsn=str(settings.SENTRY_DSN) if settings.SENTRY_DSN else None,
        transport=transport,
        environment=settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE,
        server_name=settings.SENTRY_SERVER_NAME,
        sample_rate=settings.SENTRY_ERROR_SAMPLE_RATE,
        traces_sampler=make_traces_sampler(settings.SENTRY_TRACES_SAMPLE_RATE),
        profiles_sample_rate=settings.SENTRY_PROFILES_SAMPLE_RATE,
        attach_stacktrace=True,
        # Release health's per-request session bookkeeping costs every request time; errors and traces do not need it.
        auto_session_tracking=False,
        include_local_variables=settings.SENTRY_INCLUDE_LOCALS,
        in_app_include=["app"],
        max_breadcrumbs=settings.SENTRY_MAX_BREADCRUMBS,
        event_scrubber=ServiceEventScrubber(),
        before_send=before_send,
        before_send_transaction=before_send,
        # Source lines are added by before_send from linecache: the SDK's own re-reads whole files per event.
        include_source_context=False,
        debug=settings.SENTRY_DEBUG,
        # Requests and SQL are instrumented by app.core.sentry_request (what the Starlette, FastAPI and SQLAlchemy
        # integrations do, at a fraction of their per-request cost); errors are captured by our own handlers alone.
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=None),
            HttpxIntegration(),
        ],
    )
    # Access lines would only repeat what the transaction already says.
    ignore_logger(ACCESS_LOGGER)
    # A new client starts with a clean slate (tests build many apps in one process).
    repeated_errors.reset()
    if not settings.SENTRY_DEBUG:
        # The SDK sets its own logger to DEBUG and filters later: skip building records nobody reads.
        logging.getLogger("sentry_sdk.errors").setLevel(logging.WARNING)
    return True


class RepeatedErrorLimiter:
    """Sends the first ``burst`` events of one error, then one every ``every`` seconds; counts the rest.

    "One error" is its type and the line that raised it. In an error storm (a dependency down, a bad deploy) every
    request raises the same exception: each event costs the request milliseconds to build, Sentry groups them into
    one issue anyway, and the SDK's queue (100 events) would drop most of them after they were built. The next
    event sent for that error carries how many were skipped (extra ``similar_errors_skipped``).
    """

    def __init__(self, burst: int = 10, every: float = 6.0, max_errors: int = 1024) -> None:
        self.burst, self.every, self.max_errors = burst, every, max_errors
        self._tokens: dict[tuple[str, str, int], tuple[float, float]] = {}
        self._skipped: dict[tuple[str, str, int], int] = {}

    def reset(self) -> None:
        self._tokens.clear()
        self._skipped.clear()

    @staticmethod
    def key(exc: BaseException) -> tuple[str, str, int]:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return (type(exc).__qualname__, "", 0)
        return (type(exc).__qualname__, tb.tb_frame.f_code.co_filename, tb.tb_lineno)

    def admit(self, exc: BaseException) -> tuple[bool, int]:
        """Whether to send this exception, and how many like it were skipped since the last one sent."""
        key, now = self.key(exc), time.monotonic()
        if key not in self._tokens and len(self._tokens) >= self.max_errors:
            self.reset()
        tokens, last = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.every)
        if tokens < 1.0:
            self._tokens[key] = (tokens, now)
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False, 0
        self._tokens[key] = (tokens - 1.0, now)
        return True, self._skipped.pop(key, 0)


repeated_errors = RepeatedErrorLimiter()


def set_request_user(user_id: str | int, *, email: str | None = None, settings: Settings) -> None:
    """Attach the authenticated user to this request's events: the id only, unless settings opt in to email."""
    user: dict[str, Any] = {"id": str(user_id)}
    if email is not None and settings.SENTRY_SEND_USER_EMAIL:
        user["email"] = email
    sentry_sdk.set_user(user)

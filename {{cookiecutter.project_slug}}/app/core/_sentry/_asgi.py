"""What the HTTP and WebSocket units both read from an ASGI scope: the request's data, its trace headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from app.core.paths import root_path, route_path, route_template
from app.core.redaction import redact_route_path

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint
    from starlette.types import Message, Receive, Scope

# What sentry-sdk keeps of a request body by default (max_request_body_size="medium").
REQUEST_BODY_LIMIT = 10_000
_TRACE_HEADERS = (b"sentry-trace", b"baggage", b"traceparent")
# What a transaction reads of the request's headers: the host for its URL, the user agent to keep.
_TRANSACTION_HEADERS = _SEGMENT_HEADERS = (b"host", b"user-agent")


class RequestCapture:
    """Keeps what an event needs from the request as it passes; renders it only when an event is built."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self._chunks: list[bytes] = []
        self._size = 0
        self.status_code = 500  # the response's status, set by the caller once it is known

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self._size += len(chunk)
            if self._size <= REQUEST_BODY_LIMIT:
                self._chunks.append(chunk)
        return message

    def request_data(self, *, full: bool = True) -> dict[str, Any]:
        """The request as Sentry's request interface: with ``full``, every header and a JSON body; without, the
        request line and the user agent (what a transaction needs)."""
        scope = self.scope
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", ())
            if full or key in _TRANSACTION_HEADERS
        }
        host = headers.pop("host", None) if not full else headers.get("host")  # without full: for the URL only
        prefix = root_path(scope)
        data: dict[str, Any] = {
            "method": scope.get("method"),
            "url": _url(scope, host, route_path(scope)),
            "query_string": scope.get("query_string", b"").decode("latin-1"),
            "headers": headers,
        }
        if prefix:
            data["env"] = {"SCRIPT_NAME": prefix}  # the CGI name of the root path: where the routes' paths begin
        if not full:
            return data
        body = self._body()
        if body is not None:
            data["data"] = body
        return data

    def segment_attributes(self, route: str | None) -> dict[str, str]:
        """What a streamed segment carries of its request, as a transaction does: the URL (the value of a sensitive
        route parameter filtered, as events have it), the query string and the user agent."""
        headers = {
            key: value.decode("latin-1") for key, value in self.scope.get("headers", ()) if key in _SEGMENT_HEADERS
        }
        path = route_path(self.scope)
        attributes = {
            "url.full": _url(self.scope, headers.get(b"host"), redact_route_path(path, route) if route else path)
        }
        query = self.scope.get("query_string", b"").decode("latin-1")
        if query:
            attributes["url.query"] = query
        if b"user-agent" in headers:
            attributes["user_agent.original"] = headers[b"user-agent"]
        return attributes

    def _body(self) -> Any:
        if not self._chunks or self._size > REQUEST_BODY_LIMIT:
            return None
        raw = b"".join(self._chunks)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None  # only JSON bodies are kept: their keys can be scrubbed, free text cannot

    def process_event(self, event: Event, hint: Hint) -> Event:
        if event.get("type") == "transaction":
            return _trim_transaction(event, self.request_data(full=False))
        route = route_template(self.scope)
        if route:
            event["transaction"] = route
            event["transaction_info"] = {"source": "route"}
        event["request"] = {**self.request_data(), **(event.get("request") or {})}
        return event


def _url(scope: Scope, host: str | None, path: str) -> str:
    """The URL the client called: the root path once, whether or not the server put it into ``scope["path"]``
    (uvicorn does)."""
    host = host or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
    return f"{scope.get('scheme', 'http')}://{host}{root_path(scope)}{path}"


def _trim_transaction(event: Event, request: dict[str, Any]) -> Event:
    """A transaction is about timing: it carries the request line and user agent, not every header and the body,
    and its spans not the thread they ran on (always the event loop's). Every value left out here is one the SDK
    need not serialize and the scrubber need not read, for each sampled request."""
    event["request"] = request
    spans = event.get("spans")
    for span in spans if isinstance(spans, list) else ():
        data = span.get("data")
        if isinstance(data, dict):
            data.pop("thread.id", None)
            data.pop("thread.name", None)
    return event


def incoming_trace_headers(scope: Scope) -> dict[str, str]:
    return {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope.get("headers", ())
        if key in _TRACE_HEADERS
    }

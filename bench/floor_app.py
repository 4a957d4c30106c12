"""The Sentry SDK's floor: bare FastAPI (``bare_app``) with the least a request costs when Sentry watches it.

One pure-ASGI middleware opens an isolation scope per HTTP request, continues the caller's trace from its
``sentry-trace`` and ``baggage`` headers and starts a transaction, which the SDK samples at
``SENTRY_TRACES_SAMPLE_RATE`` (the same rate as the service's target it is compared with); the response's status
goes on the transaction. Nothing else: no request id, no logging, no error handling, no integrations. The service's
cost over this is what the template itself adds to a watched request. Served with ``uvicorn floor_app:app`` from
bench/, like ``bare_app``.

With ``SENTRY_TRACE_LIFECYCLE=stream`` (sentry-sdk 2.x's span streaming, the only mode of 3.x) the same is done
with the API both share: ``sentry_sdk.traces.continue_trace`` (or ``new_trace``) and one segment span per request.
"""

from __future__ import annotations

import os
from typing import Any

import sentry_sdk
from bare_app import app as bare  # type: ignore[import-not-found]  (uvicorn runs this file from bench/)
from sentry_sdk import traces
from sentry_sdk.integrations.atexit import AtexitIntegration

_TRACE_HEADERS = {b"sentry-trace", b"baggage"}
STREAM = os.environ.get("SENTRY_TRACE_LIFECYCLE", "static") == "stream"

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    environment="bench",
    traces_sample_rate=float(os.environ["SENTRY_TRACES_SAMPLE_RATE"]),
    default_integrations=False,
    # What is still queued (a batch of streamed spans) is sent when uvicorn exits, as the stock set-up does.
    integrations=[AtexitIntegration()],
    auto_enabling_integrations=False,
    auto_session_tracking=False,
    **({"trace_lifecycle": "stream"} if STREAM else {}),
)


class FloorMiddleware:
    """An isolation scope and a (sampled) transaction per HTTP request, nothing more."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", ())
            if key in _TRACE_HEADERS
        }
        if STREAM:
            await self.streamed(headers, scope, receive, send)
            return
        with sentry_sdk.isolation_scope():
            transaction = sentry_sdk.continue_trace(
                headers, op="http.server", name=scope["path"], source="url", origin="auto.http.bench"
            )
            with sentry_sdk.start_transaction(transaction):

                async def watch(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        transaction.set_http_status(message["status"])
                    await send(message)

                await self.app(scope, receive, watch)

    async def streamed(self, headers: dict[str, str], scope: dict[str, Any], receive: Any, send: Any) -> None:
        with sentry_sdk.isolation_scope():
            if headers:
                traces.continue_trace(headers)
            else:
                traces.new_trace()
            attributes = {"sentry.op": "http.server", "sentry.origin": "auto.http.bench"}
            with traces.start_span(name=scope["path"], parent_span=None, attributes=attributes) as segment:

                async def watch(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        segment.set_attribute("http.response.status_code", message["status"])
                    await send(message)

                await self.app(scope, receive, watch)


app = FloorMiddleware(bare)

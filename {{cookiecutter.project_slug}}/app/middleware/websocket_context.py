"""One WebSocket connection, the pure-ASGI way: its request id and log context, its Sentry scope, its one error.

An unhandled error is reported once and logged once (``late_errors``), with the connection's ``request_id`` and
route; an accepted connection is then closed with 1011 (internal error), one not yet accepted is refused (the
server answers the handshake with 403). A client that goes away (``WebSocketDisconnect``) is no error.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from starlette.websockets import WebSocketDisconnect

from app.core.ids import random_hex_id
from app.core.sentry import sentry_connection
from app.middleware.late_errors import report_unit_error
from app.middleware.request_ids import bind_request_context, read_headers, restore_caller_context

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

INTERNAL_ERROR_CLOSE_CODE = 1011  # RFC 6455, 7.4.1: the server met a condition that kept it from serving


async def serve_websocket(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, sentry_enabled: bool) -> None:
    """Call the app for one connection, in the connection's own log context and (with Sentry on) scope."""
    request_id = read_headers(scope)[0] or random_hex_id()
    scope.setdefault("state", {})["request_id"] = request_id
    caller = bind_request_context(request_id)
    try:
        if not sentry_enabled:
            await _serve(app, scope, receive, send)
            return
        with sentry_connection(scope, receive, request_id):
            await _serve(app, scope, receive, send)
    finally:
        restore_caller_context(caller)


async def _serve(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    closed = False

    async def tracking_send(message: Message) -> None:
        nonlocal closed
        closed = closed or message["type"] == "websocket.close"
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except WebSocketDisconnect:
        return  # the client left: the route did not catch it, nothing more to say
    except Exception as exc:
        report_unit_error(exc, scope, "unexpected error in a WebSocket connection")
        if not closed:
            with suppress(OSError):  # the client may be gone already (uvicorn's ClientDisconnected)
                await send({"type": "websocket.close", "code": INTERNAL_ERROR_CLOSE_CODE})

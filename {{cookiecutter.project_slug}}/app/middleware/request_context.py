"""Pure ASGI middleware: request id, per-request log context, the access line, and the last-resort 500."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

import sentry_sdk
import structlog

from app.core.logging import log_access
from app.core.sentry_request import route_template, sentry_request
from app.middleware.error_handler import REQUEST_ID_HEADER, unexpected_error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def incoming_request_id(scope: Scope) -> str | None:
    """The client's X-Request-ID if it is short and made of safe characters; otherwise None."""
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            return value.decode("ascii") if _VALID_REQUEST_ID.fullmatch(value) else None
    return None


class RequestContextMiddleware:
    """Gives every request an id (logs, Sentry tag, response header) and writes one access line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if not sentry_sdk.get_client().is_active():
            await self._serve(scope, receive, send, request_id)
            return
        with sentry_request(scope, receive, request_id) as (capture, transaction):
            status = await self._serve(scope, capture.receive, send, request_id)
            if transaction is not None:
                route = route_template(scope)
                # A path that matches no route is the client's invention: tracing it would only add noise.
                transaction.sampled = route is not None
                transaction.name = route or str(scope.get("path", ""))
                transaction.source = "route"
                transaction.set_http_status(status)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> int:
        """Call the app, answer an unexpected error with the 500 envelope, write the access line; return the status."""
        start = time.perf_counter()
        status = 500
        response_started = False
        header = (_HEADER_KEY, request_id.encode("ascii"))

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *(item for item in message.get("headers", ()) if item[0].lower() != _HEADER_KEY),
                    header,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            if response_started:
                raise
            # Rendered here rather than in ServerErrorMiddleware: one capture, our headers, no re-raise.
            response = unexpected_error_response(exc, request_id, str(scope.get("path", "")))
            await response(scope, receive, send_with_request_id)
        finally:
            log_access(
                method=scope.get("method"),
                path=route_template(scope) or scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
                **scope.get("state", {}).get("access_fields", {}),
            )
        return status

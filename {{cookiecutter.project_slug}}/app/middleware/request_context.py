"""Pure ASGI middleware: request id, log context, body-size limit, security headers, access line, last-resort 500.

One middleware, not a stack of them: each pure-ASGI layer costs every request a coroutine and a ``send`` wrapper,
and this is the hottest code in the service.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette import status
from starlette.exceptions import HTTPException

from app.core.ids import random_hex_id
from app.core.logging import ACCESS_FIELDS, log_access
from app.core.paths import route_path, route_template
from app.core.redaction import cap_text, redact_text
from app.core.sentry import sentry_request
from app.middleware.error_handler import unexpected_error_response
from app.middleware.late_errors import report_after_response
from app.middleware.request_ids import bind_request_context, read_headers, restore_caller_context
from app.middleware.security_headers import SecurityHeaders
from app.middleware.websocket_context import serve_websocket
from app.schemas.errors import REQUEST_ID_HEADER, error_code_for, error_response

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE_MESSAGE = "Request body is too large"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
# An access line shows this much of a path no route matched: any client can send 64 KB of it.
MAX_LOGGED_PATH = 1024


class RequestContextMiddleware:
    """Gives every request an id (logs, Sentry tag, response header), refuses bodies over ``max_body_bytes`` with
    413 (up front from Content-Length, or as the bytes stream in, so no oversized body is ever buffered), adds
    the security headers (``security_headers``) to every response, and writes one access line per request. With
    ``sentry_enabled`` (decided once, when the app is built) each request also runs in its own Sentry scope
    (``sentry_request``). WebSocket connections get their id, log context and scope from ``serve_websocket``."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, sentry_enabled: bool, security_headers: SecurityHeaders
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.sentry_enabled = sentry_enabled
        self.security_headers = security_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await serve_websocket(self.app, scope, receive, send, sentry_enabled=self.sentry_enabled)
            else:
                await self.app(scope, receive, send)
            return

        incoming_id, declared_length = read_headers(scope)
        request_id = incoming_id or random_hex_id()
        scope.setdefault("state", {})["request_id"] = request_id
        caller = bind_request_context(request_id)
        too_large = declared_length is not None and declared_length > self.max_body_bytes
        try:
            if not self.sentry_enabled:
                await self._serve(scope, receive, send, request_id, too_large=too_large)
                return
            with sentry_request(scope, receive, request_id) as capture:
                capture.status_code = await self._serve(scope, capture.receive, send, request_id, too_large=too_large)
        finally:
            restore_caller_context(caller)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str, *, too_large: bool) -> int:
        """Call the app, answer an unexpected error with the 500 envelope, write the access line; return the status."""
        start = time.perf_counter()
        status_code = 500
        response_started = False
        header = (_HEADER_KEY, request_id.encode("ascii"))
        limit = self.max_body_bytes
        received = 0
        security_headers = self.security_headers.for_response

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                # Starlette's responses lowercase header names; a route's own X-Request-ID gives way to ours.
                headers = [item for item in message.get("headers", ()) if item[0] != _HEADER_KEY]
                headers.append(header)
                headers += security_headers(headers)
                message["headers"] = headers
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large()  # inside the route: the HTTPException handler renders it
            return message

        try:
            if too_large:
                # Outside the exception handlers here: answer directly, without reading the body.
                scope["state"][ACCESS_FIELDS] = {"error": error_code_for(status.HTTP_413_CONTENT_TOO_LARGE)}
                await self._too_large_response(request_id)(scope, receive, send_with_request_id)
            else:
                await self.app(scope, limited_receive, send_with_request_id)
        except Exception as exc:
            if response_started:
                # A background task or a streaming body failed: reported here, in the request's scope, then raised
                # on so that the server cuts the connection (a stream's client sees an incomplete body, not a 200).
                report_after_response(exc, scope)
                raise
            # Rendered here rather than in ServerErrorMiddleware: one capture, our headers, no re-raise.
            response = unexpected_error_response(exc, request_id, route_path(scope))
            scope["state"][ACCESS_FIELDS] = {"error": error_code_for(status.HTTP_500_INTERNAL_SERVER_ERROR)}
            await response(scope, receive, send_with_request_id)
        finally:
            log_access(
                method=scope.get("method"),
                # A route's template holds no values; a path no route matched may hold anything.
                path=route_template(scope) or redact_text(cap_text(route_path(scope), MAX_LOGGED_PATH)),
                status=status_code,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
                fields=scope.get("state", {}).get(ACCESS_FIELDS, {}),
            )
        return status_code

    def _too_large(self) -> HTTPException:
        return HTTPException(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"{TOO_LARGE_MESSAGE}: the limit is {self.max_body_bytes} bytes",
        )

    def _too_large_response(self, request_id: str) -> Response:
        too_large = self._too_large()
        return error_response(
            status_code=too_large.status_code,
            error=error_code_for(too_large.status_code),
            message=too_large.detail,
            request_id=request_id,
        )

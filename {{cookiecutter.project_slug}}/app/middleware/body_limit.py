"""Pure ASGI middleware: refuse request bodies over ``MAX_REQUEST_BODY_BYTES`` with 413, before reading them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette import status
from starlette.exceptions import HTTPException

from app.middleware.error_handler import error_code_for, error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE_MESSAGE = "Request body is too large"


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, if it declares a valid one.

    A function of its own so that no header value stays behind as a local of the middleware's frame, where an
    error event's frame locals would carry it.
    """
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodySizeLimitMiddleware:
    """Checks Content-Length up front and counts streamed bytes, so no oversized body is ever buffered."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            # Outside the exception handlers here: answer directly, without reading the body.
            too_large = self._too_large()
            response = error_response(
                status_code=too_large.status_code,
                error=error_code_for(too_large.status_code),
                message=too_large.detail,
                request_id=str(scope.get("state", {}).get("request_id", "unknown")),
            )
            await response(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()  # inside the route: the HTTPException handler renders it
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self) -> HTTPException:
        return HTTPException(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"{TOO_LARGE_MESSAGE}: the limit is {self.max_body_bytes} bytes",
        )

"""A unit of work's request id and log context: read from the client's headers, bound for the unit's log lines."""

from __future__ import annotations

import contextvars
import re
from typing import TYPE_CHECKING

import structlog

from app.schemas.errors import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from contextvars import Context

    from starlette.types import Scope

_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The names of the context variables structlog binds fields in (``structlog.contextvars``).
_STRUCTLOG_PREFIX = structlog.contextvars.STRUCTLOG_KEY_PREFIX


def read_headers(scope: Scope) -> tuple[str | None, int | None]:
    """The client's X-Request-ID (if short and made of safe characters) and the declared Content-Length (if valid).

    A function of its own so that no header value stays behind as a local of the middleware's frame, where an
    error event's frame locals would carry it.
    """
    request_id: str | None = None
    length: int | None = None
    seen_id = seen_length = False
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY and not seen_id:
            seen_id = True
            request_id = value.decode("ascii") if _VALID_REQUEST_ID.fullmatch(value) else None
        elif key == b"content-length" and not seen_length:
            seen_length = True
            length = int(value) if value.isdigit() else None
    return request_id, length


def bind_request_context(request_id: str) -> Context:
    """Bind the request's id and nothing else; return the caller's context, to give it back its fields after."""
    caller = contextvars.copy_context()  # a snapshot: O(1), whatever the caller had bound
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return caller


def restore_caller_context(caller: Context) -> None:
    """Unbind what the request bound (its ids, a route's own fields) and give the caller back its own, in one pass.

    Under a server each request runs in a context of its own; an in-process caller (a test client, a job calling
    the app) shares its context with the request, and would otherwise keep the request's fields.
    """
    for var in contextvars.copy_context():
        if var.name.startswith(_STRUCTLOG_PREFIX):
            var.set(caller.get(var, ...))  # ``...``: structlog's mark of an unbound field

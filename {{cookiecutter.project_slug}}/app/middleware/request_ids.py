"""A unit of work's request id and log context: read from the client's headers, bound for the unit's log lines."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import structlog

from app.schemas.errors import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextvars import Token

    from starlette.types import Scope

_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


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


def bind_request_context(request_id: str) -> Mapping[str, Token[Any]]:
    """Bind the request's id and nothing else: whatever the caller had bound is unbound, with tokens to restore it."""
    cleared = dict.fromkeys(structlog.contextvars.get_contextvars(), ...)  # structlog's mark of an unbound field
    return structlog.contextvars.bind_contextvars(**{**cleared, "request_id": request_id})


def restore_caller_context(tokens: Mapping[str, Token[Any]]) -> None:
    """Unbind what the request bound (its trace ids, a route's own fields), then give the caller back its fields.

    Under a server each request runs in a context of its own; an in-process caller (a test client, a job calling
    the app) shares its context with the request, and would otherwise keep the request's fields.
    """
    structlog.contextvars.unbind_contextvars(*(structlog.contextvars.get_contextvars().keys() - tokens.keys()))
    structlog.contextvars.reset_contextvars(**tokens)

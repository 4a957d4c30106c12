"""One JSON error envelope for every failure, and the one place that decides what goes to Sentry.

``{"error": CODE, "message": str, "details": {...}, "request_id": str}``, plus ``"event_id"`` when the error was
sent to Sentry. 4xx responses are the client's business and are never sent; every 5xx is sent exactly once.
"""

from __future__ import annotations

import socket
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
import sentry_sdk
import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette import status
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.sentry import HEALTH_PATH_PREFIX, repeated_errors
from app.exceptions import AppException

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

REQUEST_ID_HEADER = "X-Request-ID"
# Where a handler leaves its fields for the request's access line (request.state, i.e. scope["state"]).
ACCESS_FIELDS = "access_fields"
GENERIC_MESSAGE = "An unexpected error occurred"

_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_ERROR",
    403: "AUTHORIZATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT_ERROR",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
# Failures to reach the database: the client should retry later, the team should hear about it.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)
# SQLSTATEs of a database that is overloaded, restarting or cancelling our statement (class 08: connection).
UNAVAILABLE_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03", "53300"})

log = structlog.get_logger(__name__)


def error_code_for(status_code: int) -> str:
    return _ERROR_CODES.get(status_code, f"HTTP_{status_code}")


def report(exc: BaseException, path: str = "") -> str | None:
    """Send an exception to Sentry once and return its event id (None when Sentry is off or sampled out).

    Repeats of one error beyond a small rate are counted, not sent: see ``RepeatedErrorLimiter``.
    """
    if not sentry_sdk.get_client().is_active():
        # Without a client the SDK still builds the whole event (stack, locals, source lines) to throw it away.
        return None
    if path.startswith(HEALTH_PATH_PREFIX):  # a failing probe is answered, not reported: failing requests are
        return None
    send, skipped = repeated_errors.admit(exc)
    if not send:
        return None
    if skipped:
        extras = {"similar_errors_skipped": skipped}
        return sentry_sdk.capture_exception(exc, extras=extras) or sentry_sdk.last_event_id()
    return sentry_sdk.capture_exception(exc) or sentry_sdk.last_event_id()


def is_database_unavailable(exc: DBAPIError) -> bool:
    """A driver error that means "cannot reach or use the database right now", not a bug in our SQL."""
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    return exc.connection_invalidated or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES


def error_response(
    *,
    status_code: int,
    error: str,
    message: str,
    request_id: str,
    details: dict[str, Any] | None = None,
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "error": error,
        "message": message,
        "details": details or {},
        "request_id": request_id,
    }
    if event_id:
        body["event_id"] = event_id
    return Response(
        content=orjson.dumps(body, default=str),
        status_code=status_code,
        media_type="application/json",
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id},
    )


def add_to_access_line(request: Request, **fields: Any) -> None:
    """A rejected request (4xx) is told by its access line, with these fields: one line per request, not two."""
    setattr(request.state, ACCESS_FIELDS, fields)


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "")) or "unknown"


def unexpected_error_response(exc: Exception, request_id: str, path: str = "") -> Response:
    """500 with a generic message: the exception's text stays in Sentry and the logs."""
    event_id = report(exc, path)
    log.error("unexpected error", error_type=type(exc).__name__, event_id=event_id, exc_info=exc)
    return error_response(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        error="INTERNAL_ERROR",
        message=GENERIC_MESSAGE,
        request_id=request_id,
        event_id=event_id,
    )


async def handle_app_exception(request: Request, exc: AppException) -> Response:
    event_id = None
    if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        event_id = report(exc, request.url.path)
        log.error("request failed", error=exc.error_code, event_id=event_id, exc_info=exc)
    else:
        add_to_access_line(request, error=exc.error_code)
    return error_response(
        status_code=exc.status_code,
        error=exc.error_code,
        message=exc.message,
        details=exc.details,
        request_id=request_id_of(request),
        event_id=event_id,
    )


async def handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    # Field, message and type only: the rejected input may hold a secret and is never echoed back.
    errors = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    add_to_access_line(request, error="VALIDATION_ERROR", fields=[error["field"] for error in errors])
    return error_response(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        error="VALIDATION_ERROR",
        message="Request validation failed",
        details={"errors": errors},
        request_id=request_id_of(request),
    )


async def handle_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    event_id = None
    if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        event_id = report(exc, request.url.path)
        message = HTTPStatus(exc.status_code).phrase
        log.error("request failed", status=exc.status_code, event_id=event_id, exc_info=exc)
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        add_to_access_line(request, error=error_code_for(exc.status_code))
    return error_response(
        status_code=exc.status_code,
        error=error_code_for(exc.status_code),
        message=message,
        request_id=request_id_of(request),
        event_id=event_id,
        headers=dict(exc.headers or {}),
    )


async def handle_integrity_error(request: Request, exc: Exception) -> Response:
    # The database's own text names tables, constraints and values: it stays in the logs.
    add_to_access_line(request, error="CONFLICT_ERROR", constraint_error=type(exc).__name__)
    return error_response(
        status_code=status.HTTP_409_CONFLICT,
        error="CONFLICT_ERROR",
        message="The request conflicts with existing data",
        request_id=request_id_of(request),
    )


async def handle_database_error(request: Request, exc: DBAPIError) -> Response:
    """Driver errors not caught more specifically: 503 when the database is unavailable, else a plain 500."""
    if is_database_unavailable(exc):
        return await handle_database_unavailable(request, exc)
    return unexpected_error_response(exc, request_id_of(request), request.url.path)


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    event_id = report(exc, request.url.path)
    log.error("database unavailable", error_type=type(exc).__name__, event_id=event_id, exc_info=exc)
    return error_response(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        error="SERVICE_UNAVAILABLE",
        message="Service temporarily unavailable",
        request_id=request_id_of(request),
        event_id=event_id,
        headers={"Retry-After": "5"},
    )


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(exc, request_id_of(request), request.url.path)


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error response the same envelope."""
    app.exception_handler(AppException)(handle_app_exception)
    app.exception_handler(RequestValidationError)(handle_validation_error)
    app.exception_handler(StarletteHTTPException)(handle_http_exception)
    app.exception_handler(IntegrityError)(handle_integrity_error)
    app.exception_handler(DBAPIError)(handle_database_error)
    for exc_class in DATABASE_UNAVAILABLE_ERRORS:
        app.exception_handler(exc_class)(handle_database_unavailable)
    app.exception_handler(Exception)(handle_unexpected_error)

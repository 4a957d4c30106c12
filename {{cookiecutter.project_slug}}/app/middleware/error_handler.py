"""The exception handlers: every failure becomes the one JSON error envelope (``app.schemas.errors``).

A 4xx is the client's business: it is told by the request's access line and never sent to Sentry. A 5xx is logged
with its traceback and sent to Sentry once (``app.core.sentry.report``); its response carries the event id.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette import status
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.logging import add_to_access_line
from app.core.paths import route_path
from app.core.sentry import report
from app.db.errors import constraint_name, is_database_unavailable, is_duplicate, raised_by_database
from app.exceptions import AppException
from app.middleware.allowed_methods import allow_header
from app.middleware.late_errors import REPORTED_AFTER_RESPONSE
from app.middleware.validation_messages import message_without_input
from app.schemas.errors import GENERIC_MESSAGE, MAX_REPORTED_ERRORS, error_code_for, error_response, status_phrase

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

log = structlog.get_logger(__name__)


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "")) or "unknown"


def unexpected_error_response(exc: Exception, request_id: str, path: str = "") -> Response:
    """500 with a generic message: the exception's text stays in Sentry and the logs."""
    event_id = report(
        exc, path, handled=False, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, error_code="INTERNAL_ERROR"
    )
    log.error("unexpected error", error_type=type(exc).__name__, event_id=event_id, exc_info=exc)
    return error_response(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        error="INTERNAL_ERROR",
        message=GENERIC_MESSAGE,
        request_id=request_id,
        event_id=event_id,
    )


async def handle_app_exception(request: Request, exc: AppException) -> Response:
    add_to_access_line(request, error=exc.error_code)
    event_id = None
    if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        event_id = report(
            exc, route_path(request.scope), status_code=exc.status_code, error_code=exc.error_code, details=exc.details
        )
        log.error("request failed", error=exc.error_code, event_id=event_id, exc_info=exc)
    return error_response(
        status_code=exc.status_code,
        error=exc.error_code,
        message=exc.message,
        details=exc.details,
        request_id=request_id_of(request),
        event_id=event_id,
    )


async def handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    # Field, message and type only: the rejected input may hold a secret and is never echoed back, not even
    # inside a validator's message. The first few only: a body of thousands of unknown keys must not be answered
    # (and logged) with thousands of errors.
    all_errors = exc.errors()
    errors = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "message": message_without_input(error),
            "type": str(error.get("type", "")),
        }
        for error in islice(all_errors, MAX_REPORTED_ERRORS)
    ]
    details: dict[str, object] = {"errors": errors}
    access_fields: dict[str, object] = {"error": "VALIDATION_ERROR", "fields": [error["field"] for error in errors]}
    if more := len(all_errors) - len(errors):
        details["more_errors"] = access_fields["more_errors"] = more
    add_to_access_line(request, **access_fields)
    return error_response(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        error="VALIDATION_ERROR",
        message="Request validation failed",
        details=details,
        request_id=request_id_of(request),
    )


async def handle_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    add_to_access_line(request, error=error_code_for(exc.status_code))
    event_id = None
    if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        event_id = report(
            exc, route_path(request.scope), status_code=exc.status_code, error_code=error_code_for(exc.status_code)
        )
        message = status_phrase(exc.status_code)
        log.error("request failed", status=exc.status_code, event_id=event_id, exc_info=exc)
    else:
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else status_phrase(exc.status_code)
    headers = dict(exc.headers or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers.update(allow_header(request))  # every method of the path, not only the first route's
    return error_response(
        status_code=exc.status_code,
        error=error_code_for(exc.status_code),
        message=message,
        request_id=request_id_of(request),
        event_id=event_id,
        headers=headers,
    )


async def handle_integrity_error(request: Request, exc: IntegrityError) -> Response:
    """409 for a duplicate value; any other violation (NOT NULL, CHECK, foreign key) is a bug: a reported 500."""
    if not is_duplicate(exc):
        return unexpected_error_response(exc, request_id_of(request), route_path(request.scope))
    # The database's own text holds the duplicate value: the client and the log get the constraint's name only.
    add_to_access_line(request, error="CONFLICT_ERROR", constraint=constraint_name(exc))
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
    add_to_access_line(request, error="INTERNAL_ERROR")
    return unexpected_error_response(exc, request_id_of(request), route_path(request.scope))


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    add_to_access_line(request, error="SERVICE_UNAVAILABLE")
    unavailable = status.HTTP_503_SERVICE_UNAVAILABLE
    event_id = report(exc, route_path(request.scope), status_code=unavailable, error_code="SERVICE_UNAVAILABLE")
    log.error("database unavailable", error_type=type(exc).__name__, event_id=event_id, exc_info=exc)
    return error_response(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        error="SERVICE_UNAVAILABLE",
        message="Service temporarily unavailable",
        request_id=request_id_of(request),
        event_id=event_id,
        headers={"Retry-After": "5"},
    )


async def handle_os_error(request: Request, exc: OSError) -> Response:
    """A refused or timed-out database connection arrives as a bare OSError; from the service's own code, a bug."""
    if raised_by_database(exc):
        return await handle_database_unavailable(request, exc)
    return unexpected_error_response(exc, request_id_of(request), route_path(request.scope))


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    if getattr(request.state, REPORTED_AFTER_RESPONSE, False):
        return Response(status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)  # never sent: the response had started
    return unexpected_error_response(exc, request_id_of(request), route_path(request.scope))


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error response the same envelope."""
    app.exception_handler(AppException)(handle_app_exception)
    app.exception_handler(RequestValidationError)(handle_validation_error)
    app.exception_handler(StarletteHTTPException)(handle_http_exception)
    app.exception_handler(IntegrityError)(handle_integrity_error)
    app.exception_handler(DBAPIError)(handle_database_error)
    app.exception_handler(PoolTimeoutError)(handle_database_unavailable)
    app.exception_handler(OSError)(handle_os_error)
    app.exception_handler(Exception)(handle_unexpected_error)

"""Errors that no exception handler can answer: raised after an HTTP response started, or in a WebSocket connection.

Each is reported once and logged once, inside its unit's own scope, so that its event and its log line carry the
unit's ``request_id``, route and trace id (see "Errors off the request path" in the README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from app.core.logging import ACCESS_FIELDS
from app.core.paths import route_path
from app.core.sentry import report

if TYPE_CHECKING:
    from starlette.types import Scope

log = structlog.get_logger(__name__)

# Set in a request's state once its error after the response started is reported: Starlette's outermost handler,
# which sees the error next, has nothing left to do.
REPORTED_AFTER_RESPONSE = "error_reported_after_response"


def report_unit_error(exc: Exception, scope: Scope, message: str) -> str | None:
    """One event (unhandled) and one log line for ``exc``, in the current unit's scope; return the event's id."""
    event_id = report(exc, route_path(scope), handled=False, error_code="INTERNAL_ERROR")
    log.error(message, error_type=type(exc).__name__, event_id=event_id, exc_info=exc)
    return event_id


def report_after_response(exc: Exception, scope: Scope) -> None:
    """A background task or a streaming body failed after the response started: the client's status is sent, and
    the request's access line, written next, keeps that status and names the error."""
    report_unit_error(exc, scope, "unexpected error after the response started")
    state = scope.setdefault("state", {})
    state[REPORTED_AFTER_RESPONSE] = True
    state[ACCESS_FIELDS] = {**state.get(ACCESS_FIELDS, {}), "error": "INTERNAL_ERROR"}

"""The error envelope every failing response uses: its model (for the OpenAPI schema), its codes, its response.

``{"error": CODE, "message": str, "details": {...}, "request_id": str}``, plus ``"event_id"`` when the error was
sent to Sentry. Nothing here needs a request: a background job can build an envelope too.
"""

from __future__ import annotations

from http.client import responses
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette import status
from starlette.responses import Response

REQUEST_ID_HEADER = "X-Request-ID"
GENERIC_MESSAGE = "An unexpected error occurred"
# A 422 lists this many field errors; ``details["more_errors"]`` counts the rest.
MAX_REPORTED_ERRORS = 20

ERROR_CODES = {
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


class ErrorResponse(BaseModel):
    """``{"error", "message", "details", "request_id"}``, plus ``event_id`` when the error went to Sentry."""

    error: str = Field(description="Stable machine-readable error code, e.g. NOT_FOUND.")
    message: str = Field(description="Human-readable summary, safe to show to a client.")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Structured context for the error. A 422 has `errors` (field, message, type; at most "
            f"{MAX_REPORTED_ERRORS}) and, when it found more, `more_errors`: how many it left out."
        ),
    )
    request_id: str = Field(description="The request's X-Request-ID, to find it in logs and Sentry.")
    event_id: str | None = Field(default=None, description="The Sentry event id, when the error was reported.")


def error_code_for(status_code: int) -> str:
    return ERROR_CODES.get(status_code, f"HTTP_{status_code}")


def status_phrase(status_code: int) -> str:
    """The standard reason phrase, or a generic one for a code without one (499, 599)."""
    if phrase := responses.get(status_code):
        return phrase
    return "Server error" if status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR else "Client error"


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
    """The envelope as a JSON response, with the request id in its body and its ``X-Request-ID`` header.

    ``Cache-Control: no-store``: an error is about one request at one moment; no cache may keep or replay it.
    """
    body: dict[str, Any] = {
        "error": error,
        "message": message,
        "details": details or {},
        "request_id": request_id,
    }
    if event_id:
        body["event_id"] = event_id
    return Response(
        content=orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS),
        status_code=status_code,
        media_type="application/json",
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id, "Cache-Control": "no-store"},
    )

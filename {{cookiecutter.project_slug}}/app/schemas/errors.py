"""The error envelope every failing response uses, as a model for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    """``{"error", "message", "details", "request_id"}``, plus ``event_id`` when the error went to Sentry."""

    error: str = Field(description="Stable machine-readable error code, e.g. NOT_FOUND.")
    message: str = Field(description="Human-readable summary, safe to show to a client.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context for the error.")
    request_id: str = Field(description="The request's X-Request-ID, to find it in logs and Sentry.")
    event_id: str | None = Field(default=None, description="The Sentry event id, when the error was reported.")

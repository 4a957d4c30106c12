"""The vocabulary of failure: every error the service reports on purpose is one of these.

Each class carries an HTTP status and a stable ``error_code`` that clients may rely on. Raise them from services;
the handler in ``app.middleware.error_handler`` turns them into the one JSON error envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette import status


class AppException(Exception):  # noqa: N818  (the name is part of the service's public vocabulary)
    """Base class of the errors the service raises on purpose."""

    status_code: ClassVar[int] = status.HTTP_500_INTERNAL_SERVER_ERROR
    error_code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "An unexpected error occurred"

    def __init__(
        self,
        message: str | None = None,
        status_code: int | None = None,
        error_code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        if error_code is not None:
            self.error_code = error_code  # type: ignore[misc]
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)


class NotFoundError(AppException):
    """The requested resource does not exist."""

    status_code = status.HTTP_404_NOT_FOUND
    error_code = "NOT_FOUND"
    default_message = "Resource not found"


class ValidationError(AppException):
    """The request is well-formed but breaks a rule the service enforces."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    error_code = "VALIDATION_ERROR"
    default_message = "Request validation failed"


class AuthenticationError(AppException):
    """The caller is not authenticated."""

    status_code = status.HTTP_401_UNAUTHORIZED
    error_code = "AUTHENTICATION_ERROR"
    default_message = "Authentication failed"


class AuthorizationError(AppException):
    """The caller is authenticated but not allowed to do this."""

    status_code = status.HTTP_403_FORBIDDEN
    error_code = "AUTHORIZATION_ERROR"
    default_message = "Permission denied"


class ConflictError(AppException):
    """The request conflicts with the current state, e.g. a duplicate unique value."""

    status_code = status.HTTP_409_CONFLICT
    error_code = "CONFLICT_ERROR"
    default_message = "Resource conflict"


class ServiceUnavailableError(AppException):
    """A dependency the service needs (e.g. its database) cannot be reached right now."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    error_code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable"


class ExternalServiceError(AppException):
    """An upstream service failed or timed out; ``details["service"]`` names it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    error_code = "EXTERNAL_SERVICE_ERROR"
    default_message = "An upstream service is unavailable"

    def __init__(
        self,
        message: str | None = None,
        service_name: str = "unknown",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details={**(details or {}), "service": service_name})
        self.service_name = service_name

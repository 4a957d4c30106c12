"""One exception as one Sentry event that says what the person on call needs: was it expected, what did the client get.

- ``handled``: False for an exception the service did not raise on purpose (Sentry's "unhandled" badge and alerts
  fire on those); True for a failure it answers deliberately (an ``AppException`` or ``HTTPException`` with a 5xx,
  an unreachable database).
- tags ``http.status_code`` and ``error_code``: the response's status and the envelope's ``error``.
- context ``error_details``: the exception's ``details``, scrubbed by ``before_send`` as every context is.

An exception has one chance of an event: reported again (a job that reports and re-raises, then the handler), it
gets the answer of its first report. ``report()`` is the service's only capture path (no integration captures a
request's exception before it), so the id it returns is its own event's, never the scope's ``last_event_id()``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from sentry_sdk.utils import event_from_exception

from app.core._sentry.limiter import repeated_errors

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

DETAILS_CONTEXT = "error_details"
# Where an exception keeps the id of its one event (None when it got none).
_EVENT_ID = "__sentry_event_id__"
_TAKES_CLIENT_OPTIONS = "client_options" in inspect.signature(event_from_exception).parameters


def report_once(
    exc: BaseException,
    admit: Callable[[BaseException], tuple[bool, int]],
    *,
    handled: bool,
    status_code: int | None = None,
    error_code: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str | None:
    """The id of the exception's one event; ``admit`` (the repeated-error limiter) says whether to send it."""
    if _EVENT_ID in exc.__dict__:
        return cast("str | None", exc.__dict__[_EVENT_ID])
    send, skipped = admit(exc)
    event_id = None
    if send:
        event_id = capture_error(
            exc, handled=handled, status_code=status_code, error_code=error_code, details=details, skipped=skipped
        )
    exc.__dict__[_EVENT_ID] = event_id
    return event_id


def report_unhandled(exc: BaseException) -> str | None:
    """``report_once`` for an exception no handler answered (a task's, start-up's), limited as every report is."""
    if not sentry_sdk.get_client().is_active():
        return None
    return report_once(exc, repeated_errors.admit, handled=False)


def capture_error(
    exc: BaseException,
    *,
    handled: bool,
    status_code: int | None = None,
    error_code: str | None = None,
    details: Mapping[str, Any] | None = None,
    skipped: int = 0,
) -> str | None:
    """Build and capture the event; return its id, or None when the SDK sent none (sampled out, dropped)."""
    mechanism = {"type": "generic", "handled": handled}
    # sentry-sdk 3 reads the client's options itself.
    options: dict[str, Any] = {"client_options": sentry_sdk.get_client().options} if _TAKES_CLIENT_OPTIONS else {}
    event, hint = event_from_exception(exc, mechanism=mechanism, **options)
    tags = {"http.status_code": str(status_code)} if status_code is not None else {}
    if error_code is not None:
        tags["error_code"] = error_code
    return sentry_sdk.capture_event(
        event,
        hint=hint,
        tags=tags or None,
        contexts={DETAILS_CONTEXT: dict(details)} if details else None,
        extras={"similar_errors_skipped": skipped} if skipped else None,
    )

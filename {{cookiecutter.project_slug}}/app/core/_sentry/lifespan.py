"""Start-up as a unit of work: its own scope, and a failure that is one event and one log line.

The event is sent before the process exits: the lifespan flushes Sentry as the last step of its shutdown, which
runs when start-up fails too. What start-up logs stays out of every later unit's breadcrumbs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sentry_sdk
import structlog

from app.core._sentry.capture import report_unhandled

log = structlog.get_logger(__name__)


@contextmanager
def sentry_startup() -> Iterator[None]:
    """Run the service's start-up in its own scope; a failure is reported, logged once and raised on."""
    with sentry_sdk.isolation_scope() as isolation:
        isolation.clear_breadcrumbs()
        try:
            yield
        except Exception as exc:
            event_id = report_unhandled(exc)
            log.exception("service start-up failed", error_type=type(exc).__name__, event_id=event_id)
            raise

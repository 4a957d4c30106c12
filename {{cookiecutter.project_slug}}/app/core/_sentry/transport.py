"""Delivery to Sentry: the SDK's HTTP transport, which says once, as a warning, that events are not arriving.

sentry-sdk drops an envelope it cannot deliver (Sentry unreachable, a refused DSN) and logs that only through its
own debug logger, so a service with a wrong or unreachable DSN would lose every event in silence. The transport
calls ``on_dropped_event`` for each such loss, inside the ``except`` block of the failed send when the network
failed: the first one is logged, every later one stays quiet (one line, not one per event).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from sentry_sdk.transport import HttpTransport

log = structlog.get_logger(__name__)

# Losses that mean "Sentry did not take it" (429 is Sentry's rate limit, acted on by the SDK itself).
_IGNORED_REASONS = frozenset({"status_429"})


class WarnOnceTransport(HttpTransport):
    """sentry-sdk's default HTTP transport; the first envelope it fails to deliver is logged as a warning."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.warned = False

    def on_dropped_event(self, _reason: str) -> None:
        super().on_dropped_event(_reason)
        delivery_failed = _reason == "network" or _reason.startswith("status_")
        if self.warned or not delivery_failed or _reason in _IGNORED_REASONS:
            return
        self.warned = True
        error = sys.exception()
        log.warning(
            "sentry events are not delivered",
            reason=_reason,
            error_type=type(error).__name__ if error is not None else None,
            sentry_host=self.parsed_dsn.host if self.parsed_dsn is not None else None,
            note="later failures are not logged",
        )

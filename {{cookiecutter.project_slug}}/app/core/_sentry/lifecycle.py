"""Which trace lifecycle the running client was started with: the one fact every instrumented unit branches on."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sentry_sdk

from app.core.redaction import scrub_span

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

STREAM = "stream"


def streaming() -> bool:
    """Whether spans are streamed (``SENTRY_TRACE_LIFECYCLE=stream``) rather than sent in one transaction each.

    Each lifecycle has its own API, and each warns when used in the other, so a unit asks this once per unit of work.
    """
    return sentry_sdk.get_client().options.get("trace_lifecycle") == STREAM


def lifecycle_options(
    lifecycle: str, *, profiles_sample_rate: float, before_send_transaction: Callable[[Event, Hint], Event | None]
) -> dict[str, Any]:
    """The init options of one lifecycle, and none of the other's (sentry-sdk 2 warns about those).

    Static: a transaction per traced request, scrubbed as events are, and transaction-based profiling. Stream:
    each span scrubbed as it ends (``scrub_span``); transaction-based profiling has no effect there.
    """
    if lifecycle == STREAM:
        return {"trace_lifecycle": STREAM, "before_send_span": scrub_span}
    return {"profiles_sample_rate": profiles_sample_rate, "before_send_transaction": before_send_transaction}

"""sentry-sdk 2's transaction API, which the static trace lifecycle uses and sentry-sdk 3 removed (it streams only).

Its calls go through an untyped handle and get their sentry-sdk 2 types back here, so that the service type-checks
against either major; on sentry-sdk 3 nothing calls them (``lifecycle.streaming()`` is always true there).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk

from app.core._sentry.lifecycle import STREAM_ONLY

if TYPE_CHECKING or not STREAM_ONLY:
    from sentry_sdk.tracing import NoOpSpan, Span, Transaction

_SDK2: Any = sentry_sdk


def transaction_span() -> Span | None:
    """The current span of a transaction; None outside one, or under the no-op span of an unrecorded request."""
    span = cast("Span | None", _SDK2.get_current_span())
    return None if span is None or isinstance(span, NoOpSpan) else span


def start_transaction(transaction: Transaction, **sampling_context: Any) -> AbstractContextManager[Transaction]:
    """Start a transaction made beforehand, the sampler given ``sampling_context`` besides the SDK's own."""
    started = _SDK2.start_transaction(transaction, custom_sampling_context=sampling_context or None)
    return cast("AbstractContextManager[Transaction]", started)


def continue_transaction(headers: dict[str, str], *, op: str, name: str, source: str, origin: str) -> Transaction:
    """A transaction continuing the trace of ``headers`` (a new one without them), not started yet."""
    return cast("Transaction", _SDK2.continue_trace(headers, op=op, name=name, source=source, origin=origin))

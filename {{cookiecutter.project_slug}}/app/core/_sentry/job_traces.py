"""A background job's trace in either lifecycle: its enqueue as a ``queue.publish`` span of the enqueuer, and each
execution as a ``queue.process`` transaction (or, with span streaming, segment) that continues the enqueuer's trace."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sentry_sdk import traces
from taskiq import TaskiqMessage

from app.core._sentry.legacy import continue_transaction, start_transaction, transaction_span
from app.core._sentry.lifecycle import streaming

if TYPE_CHECKING:
    from sentry_sdk.tracing import Span

ORIGIN = "auto.queue.taskiq"
ENQUEUED_AT_LABEL = "enqueued_at"


def publish_span(message: TaskiqMessage) -> Span | traces.StreamedSpan | None:
    """The enqueue as a span of the enqueuer's sampled span; None when there is none."""
    data = {"messaging.message.id": message.task_id, "messaging.destination.name": message.task_name}
    streamed = traces.get_current_span()  # set in stream mode only
    if streamed is not None:
        if not streamed.sampled:
            return None
        attributes = {"sentry.op": "queue.publish", "sentry.origin": ORIGIN, **data}
        return traces.start_span(name=message.task_name, attributes=dict(attributes), active=False)
    parent = transaction_span()
    if parent is None:
        return None
    span = parent.start_child(op="queue.publish", name=message.task_name, origin=ORIGIN)
    for key, value in data.items():
        span.set_data(key, value)
    return span


def execution_trace(
    message: TaskiqMessage, headers: dict[str, str], attempt: int
) -> AbstractContextManager[Span | traces.StreamedSpan]:
    """The execution's trace, to be entered in its own scopes, sampled as the service samples."""
    data: dict[str, Any] = {
        "messaging.message.id": message.task_id,
        "messaging.destination.name": message.task_name,
        "messaging.message.retry.count": attempt - 1,
    }
    enqueued_at = message.labels.get(ENQUEUED_AT_LABEL)
    if enqueued_at:
        data["messaging.message.receive.latency"] = round(max(0.0, time.time() - float(enqueued_at)) * 1000)
    if streaming():
        if headers:
            traces.continue_trace(headers)
        else:
            traces.new_trace()
        attributes = {"sentry.op": "queue.process", "sentry.origin": ORIGIN, "sentry.segment.name.source": "task"}
        return traces.start_span(name=message.task_name, parent_span=None, attributes={**attributes, **data})
    name = message.task_name
    transaction = continue_transaction(headers, op="queue.process", name=name, source="task", origin=ORIGIN)
    for key, value in data.items():
        transaction.set_data(key, value)
    return start_transaction(transaction)


def set_outcome(trace: Span | traces.StreamedSpan, *, failed: bool, retried: bool) -> None:
    """A failed attempt is an error (a streamed span knows only "ok" and "error"); a transaction tells a retried
    attempt ("aborted") from a failure for good."""
    if isinstance(trace, traces.StreamedSpan):
        trace.status = "error" if failed else "ok"
    else:
        trace.set_status("aborted" if retried else "internal_error" if failed else "ok")

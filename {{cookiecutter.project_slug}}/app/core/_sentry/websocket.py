"""The Sentry scope of one WebSocket connection, from its handshake to its close.

A connection is a unit of work of its own, as a request is: it starts without earlier breadcrumbs, carries its
``request_id`` tag and a trace of its own (or its caller's, from the handshake's headers), and an event from it
names its route and carries the handshake's URL and headers. It records no transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

import sentry_sdk
import structlog
from sentry_sdk import traces

from app.core._sentry._asgi import RequestCapture, incoming_trace_headers
from app.core._sentry.lifecycle import STREAM_ONLY, streaming

if TYPE_CHECKING or not STREAM_ONLY:  # sentry-sdk 3 has no transactions
    from app.core._sentry.transaction import incoming_trace, leave_unrecorded

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint
    from starlette.types import Receive, Scope


def _add_connection(capture: RequestCapture, event: Event, hint: Hint) -> Event:
    event = capture.process_event(event, hint)
    event["request"].pop("method", None)  # a handshake's GET says nothing of the connection
    return event


@contextmanager
def sentry_connection(scope: Scope, receive: Receive, request_id: str) -> Iterator[None]:
    """Run one WebSocket connection in its own Sentry scope."""
    with sentry_sdk.isolation_scope() as isolation:
        isolation.clear_breadcrumbs()
        sentry_sdk.get_current_scope().span = None
        isolation.set_tag("request_id", request_id)
        isolation.add_event_processor(partial(_add_connection, RequestCapture(scope, receive)))
        headers = incoming_trace_headers(scope)
        if streaming():
            if headers:
                traces.continue_trace(headers)
            else:
                traces.new_trace()
            trace = sentry_sdk.get_current_scope().get_active_propagation_context()
            structlog.contextvars.bind_contextvars(trace_id=trace.trace_id, span_id=trace.span_id)
        else:
            context = incoming_trace(headers)
            structlog.contextvars.bind_contextvars(trace_id=context.trace_id, span_id=context.span_id)
            leave_unrecorded(isolation, context, None)
        yield

"""One HTTP request as a unit of work: its own Sentry scope, in place of the stock Starlette/FastAPI integrations.

The stock integrations pay on every request for work most requests never use: a transaction object even when it
is not sampled, a span around each middleware layer, request data extracted up front. Here every request gets only
an isolation scope (tags and user stay per request), a fresh trace id (to link log lines with events) and an event
processor that renders the request's data *if* an event is built. The sampling decision is made before anything
else (``transaction``), and a transaction exists only for sampled requests. With span streaming the request is a
segment span instead, sampled by the SDK when it starts, with the same sampler and the same promises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sentry_sdk

from app.core._sentry._asgi import RequestCapture
from app.core._sentry.lifecycle import STREAM_ONLY, streaming
from app.core._sentry.segment import request_segment

if TYPE_CHECKING or not STREAM_ONLY:  # sentry-sdk 3 has no transactions
    from app.core._sentry.transaction import request_transaction

if TYPE_CHECKING:
    from starlette.types import Receive, Scope


@contextmanager
def sentry_request(scope: Scope, receive: Receive, request_id: str) -> Iterator[RequestCapture]:
    """Run one request in its own Sentry scope; the caller reads the body through the yielded capture's
    ``receive`` and sets its ``status_code``. A sampled request's trace is named by its route on the way out.
    """
    with sentry_sdk.isolation_scope() as isolation:
        # A request is a unit of work of its own: what the process logged before it (start-up lines, other units'
        # errors handled outside any unit) is no breadcrumb of its events.
        isolation.clear_breadcrumbs()
        capture = RequestCapture(scope, receive)
        isolation.set_tag("request_id", request_id)
        isolation.add_event_processor(capture.process_event)
        if streaming():
            with request_segment(scope, capture):
                yield capture
        else:
            with request_transaction(isolation, scope, capture):
                yield capture

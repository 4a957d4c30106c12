"""With span streaming (``SENTRY_TRACE_LIFECYCLE=stream``): one HTTP request as a segment span, sampled as it starts.

The caller's trace is continued (or a new one begun), the sampler (``sampling``) decides when the segment starts,
and a sampled segment is named by its route on the way out, with the response's status. A started segment cannot
be unsampled: the sampler turns down a path no route matches before it starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sentry_sdk
import structlog
from sentry_sdk import traces
from sentry_sdk.scope import Scope as SentryScope

from app.core._sentry._asgi import RequestCapture, incoming_trace_headers
from app.core.ids import random_hex_id
from app.core.paths import route_template

if TYPE_CHECKING:
    from starlette.types import Scope

# A segment is started before routing: its first name says nothing of the path (an unsampled segment's name
# travels in the baggage of its outgoing calls). A sampled one is named by its route on the way out.
_SEGMENT_NAME = "{method} request"
_PENDING = "pending"


@contextmanager
def request_segment(scope: Scope, capture: RequestCapture) -> Iterator[None]:
    """The request as a streamed segment: the caller's trace continued (or a new one), sampled as it starts."""
    headers = incoming_trace_headers(scope)
    if headers:
        traces.continue_trace(headers)
    else:
        traces.new_trace()
        # Its id made the cheap way (see app.core.ids), not by the uuid4() call the SDK makes when it is first read.
        sentry_sdk.get_current_scope().get_active_propagation_context().trace_id = random_hex_id()
    SentryScope.set_custom_sampling_context({"asgi_scope": scope})
    method = str(scope.get("method") or "HTTP")
    callers_baggage = CallersBaggage()
    # parent_span=None: a new segment, never a child of whatever span calls the app in-process (a test client).
    with traces.start_span(
        name=_SEGMENT_NAME.format(method=method),
        parent_span=None,
        attributes={
            "sentry.op": "http.server",
            "sentry.origin": "auto.http.app",
            "sentry.segment.name.source": "url",
            "http.request.method": method,
        },
    ) as root:
        callers_baggage.tell(root.sampled)
        # Read once the segment exists: its ids are the ones the request's events carry, sampled or not.
        structlog.contextvars.bind_contextvars(trace_id=root.trace_id, span_id=root.span_id)
        try:
            yield
        finally:
            route = route_template(scope)
            if route is not None:
                root.name = route
                root.set_attribute("sentry.segment.name.source", "route")
            root.set_attribute("http.response.status_code", capture.status_code)
            if root.sampled:  # read only for a segment that is sent
                for key, value in capture.segment_attributes(route).items():
                    root.set_attribute(key, value)
            if capture.status_code >= 500:  # noqa: PLR2004  (the 5xx class)
                root.status = "error"


class CallersBaggage:
    """With span streaming: the caller's baggage told downstream as this service's one lifecycle tells it.

    sentry-sdk passes an undecided caller's baggage on without this service's rate and decision, and rewrites a
    decided caller's rate to 1.0 or 0.0 (the sampler's answer to ``parent_sampled``). Made before the segment starts,
    told its decision once it has: a decided trace keeps its baggage unchanged, an undecided one gets both.
    """

    __slots__ = ("_items", "_kept", "_parent_sampled")

    def __init__(self) -> None:
        context = sentry_sdk.get_current_scope().get_active_propagation_context()
        baggage = context.baggage
        self._items = baggage.sentry_items if baggage is not None and not baggage.mutable else None
        self._parent_sampled = context.parent_sampled
        self._kept = self._items.get("sample_rate") if self._items is not None else None
        if self._items is not None and self._kept is None:
            self._items["sample_rate"] = _PENDING  # the SDK writes the rate it sampled at where one is set

    def tell(self, sampled: bool | None) -> None:
        items = self._items
        if items is None:
            return
        if self._parent_sampled is not None:
            if self._kept is None:
                items.pop("sample_rate", None)
            else:
                items["sample_rate"] = self._kept
            return
        if items.get("sample_rate") == _PENDING:
            items.pop("sample_rate")
        items["sampled"] = "true" if sampled else "false"

"""With the static trace lifecycle (sentry-sdk 2's default): one HTTP request as a transaction, decided before
anything else, and what an unrecorded request tells downstream.

Every service of a trace compares one random number, the trace's ``sample_rand`` (carried in ``baggage``), with
its rate, so that services sampling at the same rate keep or drop a trace together. The service that decides
writes its rate and decision into the baggage (the dynamic sampling context Sentry extrapolates counts from);
the services after it follow that decision and pass the baggage on unchanged. An unrecorded request gets no
transaction object: its outgoing calls carry ``sentry-trace: <trace>-<span>-0`` from its propagation context.

sentry-sdk 3 has no transactions: this module is imported on sentry-sdk 2 only (see ``lifecycle.STREAM_ONLY``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sentry_sdk
import structlog
from sentry_sdk.tracing import NoOpSpan, Transaction
from sentry_sdk.tracing_utils import Baggage, PropagationContext

from app.core._sentry._asgi import incoming_trace_headers
from app.core._sentry.legacy import start_transaction
from app.core.ids import random_hex_id
from app.core.paths import route_path, route_template

if TYPE_CHECKING:
    from sentry_sdk import Scope as SentryScope
    from starlette.types import Scope

    from app.core._sentry._asgi import RequestCapture

# The parent of every span an unrecorded request starts (an httpx call): sentry-sdk then makes them no-op spans,
# whose trace headers come from the propagation context. Never entered, so one instance serves every request.
_UNRECORDED = NoOpSpan()


@contextmanager
def request_transaction(isolation: SentryScope, scope: Scope, capture: RequestCapture) -> Iterator[None]:
    """The request's trace, continued from its caller's headers or new: a transaction if sampled, else ``-0``."""
    # A request starts its own trace (or continues the caller's, from its headers), never a span of the
    # code that happens to call the app in-process, as a test client does.
    sentry_sdk.get_current_scope().span = None
    context = incoming_trace(incoming_trace_headers(scope))
    # Every line logged in this request carries the ids its events will carry (see app.core.logging).
    structlog.contextvars.bind_contextvars(trace_id=context.trace_id, span_id=context.span_id)
    sampled, decision = decide(context, scope)
    if not sampled:
        leave_unrecorded(isolation, context, decision)
        yield
        return
    with recorded(isolation, context, decision, scope, route_path(scope)) as transaction:
        yield
        route = route_template(scope)
        # A path that matches no route is the client's invention: tracing it would only add noise.
        transaction.sampled = route is not None
        transaction.name = route or route_path(scope)
        transaction.source = "route"
        transaction.set_http_status(capture.status_code)


class _UnrecordedTrace(PropagationContext):
    """The trace of a request this service does not record, which says so to the services it calls.

    Its baggage is built when something first reads it (an outgoing call, an error event), not for every request:
    most requests read it never.
    """

    __slots__ = ("_decision",)

    def __init__(self, context: PropagationContext, decision: dict[str, str] | None) -> None:
        super().__init__(
            context.trace_id,
            context.span_id,
            context.parent_span_id,
            context.parent_sampled,
            baggage=None if decision else context.baggage,
        )
        self._decision = decision

    def to_traceparent(self) -> str:
        return f"{self.trace_id}-{self.span_id}-0"

    def get_baggage(self) -> Baggage:
        if self.baggage is None:
            self.baggage = _baggage_with(self, self._decision)
        return self.baggage


def incoming_trace(headers: dict[str, str]) -> PropagationContext:
    """The caller's trace, read from its headers, or a new one; either way with a span id of this request's own."""
    # Ids made the cheap way (see app.core.ids) rather than by uuid4() calls.
    context = PropagationContext.from_incoming_data(headers) if headers else PropagationContext(random_hex_id())
    context.span_id = random_hex_id(64)
    return context


def decide(context: PropagationContext, scope: Scope) -> tuple[bool, dict[str, str] | None]:
    """Whether to record this request's trace (its ``sample_rand`` below the rate ``traces_sampler`` gives), and
    the baggage items this service writes for it (None: the caller's baggage holds them, and is followed).

    A trace that arrives decided (``-1``, ``-0``) is followed (the sampler gives 1.0 or 0.0 for it) and keeps its
    baggage; otherwise the rate and the decision are written into the trace's baggage.
    """
    sampler = sentry_sdk.get_client().options.get("traces_sampler")
    parent_sampled = context.parent_sampled
    rate = float(sampler({"asgi_scope": scope, "parent_sampled": parent_sampled})) if sampler else 0.0
    baggage = context.baggage
    # The caller's Sentry items, when they came with the trace; else this service starts the trace's sampling.
    items = baggage.sentry_items if baggage is not None and not baggage.mutable else None
    try:
        value = float(items.get("sample_rand", "nan")) if items is not None else -1.0
    except ValueError:
        value = -1.0
    fresh = not 0 <= value < 1
    if fresh:
        value = int(random.random() * 1_000_000) / 1_000_000  # noqa: S311  (six digits, as sentry-sdk writes it)
    sampled = value < rate
    written = {"sample_rand": f"{value:.6f}"} if fresh else {}
    if items is None or parent_sampled is None:
        written |= {"sample_rate": str(rate), "sampled": "true" if sampled else "false"}
    if items is None:  # written into the baggage this service builds when something reads it
        return sampled, written
    items.update(written)
    return sampled, None


def _baggage_with(context: PropagationContext, decision: dict[str, str] | None) -> Baggage:
    baggage = Baggage.populate_from_propagation_context(context)
    if decision:
        baggage.sentry_items.update(decision)
    return baggage


def leave_unrecorded(isolation: SentryScope, context: PropagationContext, decision: dict[str, str] | None) -> None:
    """Give the request's scope its trace, unrecorded: no transaction, and ``-0`` on every outgoing call."""
    isolation._propagation_context = _UnrecordedTrace(context, decision)  # sentry-sdk 2.75 has no public setter
    isolation.span = _UNRECORDED


@contextmanager
def recorded(
    isolation: SentryScope, context: PropagationContext, decision: dict[str, str] | None, scope: Scope, name: str
) -> Iterator[Transaction]:
    """Record the request's trace: a transaction, started with the decision ``decide`` made and its rate."""
    if decision:
        context.baggage = _baggage_with(context, decision)
    isolation._propagation_context = context  # as in leave_unrecorded
    dsc = context.get_baggage().sentry_items
    rate = dsc.get("sample_rate")
    transaction = Transaction(
        op="http.server",
        name=name,
        source="url",
        origin="auto.http.app",
        trace_id=context.trace_id,
        span_id=context.span_id,
        parent_span_id=context.parent_span_id,
        parent_sampled=context.parent_sampled,
        baggage=context.baggage,
        same_process_as_parent=False,
        sampled=True,
    )
    with start_transaction(transaction, asgi_scope=scope):
        # start_transaction writes a decision made before it into the baggage as rate 1.0: the real one goes back.
        if rate is None:
            dsc.pop("sample_rate", None)
        else:
            dsc["sample_rate"] = rate
        yield transaction

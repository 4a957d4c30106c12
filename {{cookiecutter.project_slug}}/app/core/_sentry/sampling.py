"""The traces sampler both trace lifecycles use: health checks never traced, an upstream decision followed, the
service's rate otherwise, and (with span streaming, where a started segment cannot be unsampled) a path no route
matches turned down before its segment starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sentry_sdk
from sentry_sdk import tracing_utils
from starlette.routing import Match

from app.core.paths import is_health_path, route_path

if TYPE_CHECKING:
    from sentry_sdk.types import SamplingContext
    from starlette.types import Scope


def make_traces_sampler(rate: float, *, routed_only: bool = False) -> Callable[[SamplingContext], float]:
    """Never trace health checks; follow an upstream decision; otherwise sample at ``rate``. With ``routed_only``
    (span streaming, where a started segment cannot be unsampled) a path no route matches is never traced either."""

    def traces_sampler(context: SamplingContext) -> float:
        scope = context.get("asgi_scope") or {}
        if is_health_path(route_path(scope)):
            return 0.0
        parent = context.get("parent_sampled")
        chosen = rate if parent is None else 1.0 if parent else 0.0
        # A trace the rate leaves out is left out whatever is said of its route: only a kept one is matched.
        if chosen and routed_only and not _left_out_at(chosen, context) and not matches_a_route(scope):
            return 0.0
        return chosen

    return traces_sampler


# sentry-sdk's own reading of a trace's sample_rand (2.75 and 3.0 alike): its baggage's, else drawn from its id.
_BAGGAGE_SAMPLE_RAND = getattr(tracing_utils.Baggage, "_sample_rand", None)
_DRAW_SAMPLE_RAND = getattr(tracing_utils, "_generate_sample_rand", None)


def _left_out_at(rate: float, context: SamplingContext) -> bool:
    """Whether the SDK leaves this trace out at ``rate``: the ``sample_rand`` it compares (the current scope's
    trace's, read as it reads it) is not below the rate. False when that cannot be told: the route is checked."""
    if rate >= 1 or _DRAW_SAMPLE_RAND is None or _BAGGAGE_SAMPLE_RAND is None:
        return False
    trace = sentry_sdk.get_current_scope().get_active_propagation_context()
    if trace.trace_id != (context.get("transaction_context") or {}).get("trace_id"):
        return False  # not the trace the SDK is deciding (a sampler called by hand)
    drawn = _BAGGAGE_SAMPLE_RAND(trace.baggage) if trace.baggage is not None else None
    return float(_DRAW_SAMPLE_RAND(trace.trace_id) if drawn is None else drawn) >= rate


def matches_a_route(scope: Scope) -> bool:
    """Whether the app's router will find a route for this request (a wrong method counts: it is answered by one)."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        return True  # not a Starlette app's scope: nothing to say a route is missing
    probe = dict(scope)  # matching writes (and restores) FastAPI's own keys: never on the request's scope
    return any(route.matches(probe)[0] is not Match.NONE for route in routes)

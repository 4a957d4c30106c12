"""SQL statements as Sentry breadcrumbs and spans, in place of sentry-sdk's SQLAlchemy integration.

The stock integration starts and finishes a span object for every statement of every request, traced or not.
Here each statement is a breadcrumb on every request, and a span only inside a sampled transaction (or, with span
streaming, a sampled segment). Statements are recorded without their parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk import traces
from sqlalchemy import event

from app.core._sentry.legacy import transaction_span
from app.core._sentry.lifecycle import end_child

if TYPE_CHECKING:
    from sentry_sdk.tracing import Span
    from sqlalchemy.engine import Connection, ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncEngine


def trace_queries(engine: AsyncEngine) -> None:
    """Record every statement ``engine`` runs from now on."""
    system = engine.dialect.name

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(  # noqa: PLR0917  (SQLAlchemy's event signature)
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not sentry_sdk.get_client().is_active():
            return
        sentry_sdk.add_breadcrumb(category="query", message=statement, data={"db.system": system})
        if context is not None:
            context._sentry_span = _start_span(statement, system)

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(  # noqa: PLR0917  (SQLAlchemy's event signature)
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        _end_span(context)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _failed(exception_context: ExceptionContext) -> None:
        _end_span(exception_context.execution_context, failed=True)


def _start_span(statement: str, system: str) -> Span | traces.StreamedSpan | None:
    """A span for the statement under the current sampled span of either lifecycle; None when there is none."""
    # Only one of the two is ever set: the streamed span in stream mode, the transaction's span in static mode.
    streamed = traces.get_current_span()
    if streamed is not None:
        if not streamed.sampled:
            return None
        # active=False: nothing runs under a statement, and the request's span stays the current one.
        return traces.start_span(
            name=statement,
            attributes={"sentry.op": "db", "sentry.origin": "auto.db.app", "db.system.name": system},
            active=False,
        )
    parent = transaction_span()
    if parent is None or not parent.sampled:
        return None
    span = parent.start_child(op="db", name=statement, origin="auto.db.app")
    span.set_data("db.system", system)
    return span


def _end_span(context: Any, *, failed: bool = False) -> None:
    span: Span | traces.StreamedSpan | None = getattr(context, "_sentry_span", None)
    if span is None:
        return
    context._sentry_span = None
    end_child(span, failed=failed)

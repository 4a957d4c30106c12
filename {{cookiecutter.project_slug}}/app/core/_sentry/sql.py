"""SQL statements as Sentry breadcrumbs and spans, in place of sentry-sdk's SQLAlchemy integration.

The stock integration starts and finishes a span object for every statement of every request, traced or not.
Here each statement is a breadcrumb on every request, and a span only inside a sampled transaction. Statements
are recorded without their parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sentry_sdk
from sqlalchemy import event

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
        parent = sentry_sdk.get_current_span()
        if parent is not None and parent.sampled and context is not None:
            span = parent.start_child(op="db", name=statement, origin="auto.db.app")
            span.set_data("db.system", system)
            context._sentry_span = span

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(  # noqa: PLR0917  (SQLAlchemy's event signature)
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        _finish_span(context)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _failed(exception_context: ExceptionContext) -> None:
        _finish_span(exception_context.execution_context, status="internal_error")


def _finish_span(context: Any, status: str | None = None) -> None:
    span: Span | None = getattr(context, "_sentry_span", None)
    if span is None:
        return
    if status is not None:
        span.set_status(status)
    span.finish()
    context._sentry_span = None

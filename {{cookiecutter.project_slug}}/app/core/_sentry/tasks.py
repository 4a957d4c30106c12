"""Background coroutines as units of work: ``spawn`` starts one in a fork of its spawner's scope, and the event
loop's exception handler reports what escapes any other task.

A spawned task keeps what its spawner knew when it started it (a request's ``request_id`` tag, user, trace id,
breadcrumbs and log context); what it records afterwards is its own and reaches neither the spawner nor any other
unit. Its failure is one event and one log line.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
{#- Python 3.11 has no type parameter syntax (PEP 695); ruff asks for it on 3.12 and newer. #}
{%- set type_params = "" if cookiecutter.python_version == "3.11" else "[T]" %}
from typing import TYPE_CHECKING, Any{{ ", TypeVar" if not type_params }}

import sentry_sdk
import structlog
from sentry_sdk.scope import use_isolation_scope, use_scope

from app.core._sentry.capture import report_unhandled

if TYPE_CHECKING:
    from sentry_sdk import Scope

{% if not type_params -%}
T = TypeVar("T")
{% endif -%}
log = structlog.get_logger(__name__)

# The event loop keeps only weak references to tasks (asyncio docs, create_task): a task nobody else holds may be
# collected before it finishes. Spawned tasks are held here until they are done.
_running: set[asyncio.Task[Any]] = set()
# Marks an exception spawn() has reported and logged: the loop's handler stays quiet about it.
_SPAWN_REPORTED = "__spawn_reported__"


async def _run{{ type_params }}(coro: Coroutine[Any, Any, T], isolation: Scope, current: Scope, name: str) -> T:
    with use_isolation_scope(isolation), use_scope(current):
        try:
            return await coro
        except Exception as exc:
            log.exception("spawned task failed", task=name, event_id=report_unhandled(exc))
            exc.__dict__[_SPAWN_REPORTED] = True
            raise


def spawn{{ type_params }}(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Run ``coro`` as a task of its own, held until done; a failure is reported once, tied to the spawner's
    context, then raised to whoever awaits the task (nobody need)."""
    isolation = sentry_sdk.get_isolation_scope().fork()
    current = sentry_sdk.get_current_scope().fork()
    # The task outlives the spawner's span: nothing is recorded under it. One slot holds either lifecycle's span.
    current.span = None
    task = asyncio.get_running_loop().create_task(_run(coro, isolation, current, name), name=name)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def _handle_escaped(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, Exception):
        if _SPAWN_REPORTED in exc.__dict__:
            return  # spawn() has reported and logged it
        report_unhandled(exc)
    loop.default_exception_handler(context)  # the one log line ("Task exception was never retrieved", ...)


def report_escaped(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler: an exception no one retrieved (a task never awaited, a failing callback)
    is reported once and logged once. It runs in the failed task's own context where Python keeps it (3.12+),
    else in an empty one: it never borrows the scope or log context of whatever unit runs when it is called."""
    task = context.get("future") or context.get("task")
    get_context = getattr(task, "get_context", None)
    own = get_context().copy() if get_context is not None else contextvars.Context()
    own.run(_handle_escaped, loop, context)


@contextmanager
def reporting_escaped_errors() -> Iterator[None]:
    """Install ``report_escaped`` on the running loop for as long as the block runs (the service's lifespan)."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(report_escaped)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)

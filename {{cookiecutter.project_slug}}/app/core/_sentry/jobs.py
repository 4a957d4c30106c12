"""One background job as a unit of work: its own scope, the enqueuing request's trace continued, Crons check-ins.

``JobMiddleware`` hooks taskiq. Where a job is enqueued, the enqueue is a ``queue.publish`` span of the caller and
the caller's trace headers and request id travel in the message's labels. Each execution runs in a fresh isolation
scope (nothing of the process or of the enqueuer rides along) and a ``queue.process`` transaction (or segment, with
span streaming: ``job_traces``) that continues the enqueuer's trace, sampled as the service samples; its log lines
carry job_id, task_name, trace_id and request_id. A job that fails for good is one event with its attempt count; an
attempt that is retried becomes a breadcrumb of the next one, carried in the retry's labels. A scheduled job checks
in to Sentry Crons (``crons``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sentry_sdk
import structlog
from sentry_sdk import traces
from sentry_sdk.scope import Scope, ScopeType, use_isolation_scope, use_scope
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.exceptions import NoResultError

from app.core._sentry.crons import check_in_finished, check_in_started, schedule_entry
from app.core._sentry.job_traces import ENQUEUED_AT_LABEL, execution_trace, publish_span, set_outcome
from app.core._sentry.lifecycle import end_child
from app.core.redaction import cap_text, redact, redact_text

if TYPE_CHECKING:
    from sentry_sdk.tracing import Span

TRACE_LABELS = ("sentry-trace", "baggage")
REQUEST_ID_LABEL = "request_id"
ATTEMPTS_LABEL = "sentry_failed_attempts"
CHECK_IN_LABEL = "sentry_check_in_id"
# What a failed attempt keeps of its error's message, redacted, for the next attempt's breadcrumb.
MESSAGE_LIMIT = 200

log = structlog.get_logger(__name__)


@dataclass
class _Execution:
    """What one execution of a job holds from ``pre_execute`` to ``post_execute``."""

    task_id: str
    attempt: int
    failures: list[dict[str, str]]
    stack: ExitStack = field(default_factory=ExitStack)
    started: float = field(default_factory=time.monotonic)
    error: BaseException | None = None
    transaction: Any = None
    check_in: tuple[str, str] | None = None


_running: ContextVar[_Execution | None] = ContextVar("sentry_job", default=None)
_publishing: ContextVar[Span | traces.StreamedSpan | None] = ContextVar("sentry_job_publish", default=None)


def _failure(exc: BaseException) -> dict[str, str]:
    return {"error": type(exc).__name__, "message": redact_text(cap_text(str(exc), MESSAGE_LIMIT))}


def _earlier_failures(labels: Mapping[str, Any]) -> list[dict[str, str]]:
    try:
        failures = json.loads(str(labels.get(ATTEMPTS_LABEL) or "[]"))
    except ValueError:
        return []
    return [item for item in failures if isinstance(item, dict)] if isinstance(failures, list) else []


class JobMiddleware(TaskiqMiddleware):
    """List it after the retry middleware: its ``on_error`` must see a failure before a retry is sent."""

    def __init__(self, report: Callable[[BaseException], str | None]) -> None:
        super().__init__()
        self.report = report

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        labels = message.labels
        running = _running.get()
        if running is not None and running.task_id == message.task_id:  # a retry of the running job
            labels[ATTEMPTS_LABEL] = json.dumps(running.failures)
            if running.check_in is not None:
                labels[CHECK_IN_LABEL] = running.check_in[1]
            return message
        labels[ENQUEUED_AT_LABEL] = f"{time.time():.3f}"
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id is not None:
            labels[REQUEST_ID_LABEL] = str(request_id)
        # A scheduled run belongs to no request: it starts a trace of its own.
        if sentry_sdk.get_client().is_active() and "schedule_id" not in labels:
            span = publish_span(message)
            _publishing.set(span)
            labels.update(sentry_sdk.get_current_scope().iter_trace_propagation_headers(span=span))
        return message

    def post_send(self, message: TaskiqMessage) -> None:
        span = _publishing.get()
        if span is not None:
            _publishing.set(None)
            end_child(span)

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        labels = message.labels
        running = _Execution(message.task_id, int(labels.get("_retries", 0)) + 1, _earlier_failures(labels))
        _running.set(running)
        request_id = labels.get(REQUEST_ID_LABEL)
        fields = {"job_id": message.task_id, "task_name": message.task_name, "request_id": request_id}
        if sentry_sdk.get_client().is_active():
            fields["trace_id"] = self._open_scope(running, message)
        else:
            fields["trace_id"] = str(labels.get("sentry-trace") or "")[:32] or None
        # Nothing the enqueuer or an earlier job bound to the log context belongs to this job's lines.
        structlog.contextvars.clear_contextvars()
        running.stack.enter_context(structlog.contextvars.bound_contextvars(**fields))
        return message

    def _open_scope(self, running: _Execution, message: TaskiqMessage) -> str:
        """Enter the execution's own scopes and transaction; return its trace id."""
        labels = message.labels
        running.stack.enter_context(use_isolation_scope(Scope(ty=ScopeType.ISOLATION)))
        running.stack.enter_context(use_scope(Scope(ty=ScopeType.CURRENT)))
        isolation = sentry_sdk.get_isolation_scope()
        isolation.set_tag("job_id", message.task_id)
        isolation.set_tag("task_name", message.task_name)
        if labels.get(REQUEST_ID_LABEL):
            isolation.set_tag("request_id", str(labels[REQUEST_ID_LABEL]))
        isolation.set_context(
            "job",
            {
                "task_name": message.task_name,
                "job_id": message.task_id,
                "attempt": running.attempt,
                "args": redact(message.args),
                "kwargs": redact(message.kwargs),
            },
        )
        for number, failure in enumerate(running.failures, start=1):
            isolation.add_breadcrumb(
                category="job.attempt",
                level="error",
                message=f"attempt {number} failed: {failure.get('error')}",
                data={"message": failure.get("message")},
            )
        headers = {name: str(labels[name]) for name in TRACE_LABELS if labels.get(name)}
        trace = running.stack.enter_context(execution_trace(message, headers, running.attempt))
        running.transaction = trace
        self._check_in(running, message)
        return trace.trace_id

    def _check_in(self, running: _Execution, message: TaskiqMessage) -> None:
        entry = schedule_entry(self.broker, message)
        if entry is not None:
            check_in_id = check_in_started(entry, message.labels.get(CHECK_IN_LABEL) or None)
            running.check_in = (str(entry["schedule_id"]), check_in_id) if check_in_id else None

    def on_error(self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException) -> None:
        running = _running.get()
        if running is not None and running.task_id == message.task_id:
            running.error = exception
            running.failures.append(_failure(exception))

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        running = _running.get()
        if running is None or running.task_id != message.task_id:
            return
        _running.set(None)
        with running.stack:
            error = running.error
            retried = error is not None and isinstance(result.error, NoResultError)
            if error is not None and not retried:
                sentry_sdk.get_isolation_scope().set_tag("job.attempts", str(running.attempt))
                event_id = self.report(error) if sentry_sdk.get_client().is_active() else None
                log.error("job failed", attempts=running.attempt, error_type=type(error).__name__, event_id=event_id)
            if running.transaction is not None:
                set_outcome(running.transaction, failed=error is not None, retried=retried)
            if running.check_in is not None and not retried:
                duration = time.monotonic() - running.started
                check_in_finished(*running.check_in, failed=error is not None, duration=duration)

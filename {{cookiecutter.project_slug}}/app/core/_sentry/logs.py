"""Log lines as Sentry Logs (``SENTRY_ENABLE_LOGS``): every line the service writes, its fields as attributes.

A handler beside the one that writes lines to stdout sends each record the root logger passes, structlog's and
the stdlib's alike, as a Sentry log: the line's event text as the body, its fields as attributes (structlog's
fields, a stdlib record's extras, the request's ids), the exception's type and message when one is attached. The
SDK adds the current trace id, so a log, the request's error event and its transaction link in Sentry. Everything
sent goes through the redaction policy in ``before_send_log`` (``app.core.redaction.scrub_log``).

The access line is left out unless ``SENTRY_LOGS_ACCESS_LINE`` asks for it: one log per request repeats what the
transaction says, and costs every request the SDK's work for a log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sentry_sdk import logger as sentry_logger

from app.core.logging import ACCESS_LOGGER
from app.core.redaction import redact_fields

_HANDLER_NAME = "sentry-logs"
# The SDK's own records: a log about sending a log would send another.
_OWN_LOGGERS = ("sentry_sdk",)
# Severity by level, highest first: a record's level picks the first it reaches.
_SEVERITIES: tuple[tuple[int, Callable[..., None]], ...] = (
    (logging.CRITICAL, sentry_logger.fatal),
    (logging.ERROR, sentry_logger.error),
    (logging.WARNING, sentry_logger.warning),
    (logging.INFO, sentry_logger.info),
    (logging.DEBUG, sentry_logger.debug),
)
# Keys of a structlog line that are bookkeeping: the body, the level and the time are the log's own fields, and
# the SDK sets the trace and span ids itself.
_META_KEYS = frozenset({"event", "level", "timestamp", "exc_info", "stack_info", "_record", "_from_structlog"})
_META_KEYS |= {"positional_args", "color_message", "trace_id", "span_id"}
# What every stdlib record has: anything else on one is an extra its caller passed.
_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class SentryLogHandler(logging.Handler):
    """Sends each record as a Sentry log; never fails the code that logged (see ``logging.Handler.handleError``)."""

    def __init__(self, *, access_line: bool) -> None:
        super().__init__()
        self.set_name(_HANDLER_NAME)
        self._access_line = access_line

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_OWN_LOGGERS) or (record.name == ACCESS_LOGGER and not self._access_line):
            return
        try:
            body, attributes = log_of(record)
            send = next((send for level, send in _SEVERITIES if record.levelno >= level), sentry_logger.trace)
            send(body, attributes=attributes)
        except RecursionError:  # as logging.StreamHandler.emit does
            raise
        except Exception:
            self.handleError(record)


def log_of(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """A record's body and attributes: a structlog line's event and fields (already through the policy), or a stdlib
    record's message, extras and the request's ids (put through it here, as every log line's fields are)."""
    if isinstance(record.msg, Mapping):
        line = record.msg
        body = str(line.get("event", ""))
        attributes = {key: value for key, value in line.items() if key not in _META_KEYS}
        exc_info: Any = line.get("exc_info") or record.exc_info
    else:
        body = record.getMessage()
        fields = structlog.contextvars.get_contextvars()
        fields.update((key, value) for key, value in vars(record).items() if key not in _RECORD_KEYS)
        attributes = dict(redact_fields(None, "", fields))
        exc_info = record.exc_info
    attributes.pop("logger", None)
    attributes["logger.name"] = record.name
    error = _exception_of(exc_info)
    if error is not None:
        attributes["exception.type"] = type(error).__qualname__
        attributes["exception.message"] = str(error)
    return body, attributes


def _exception_of(exc_info: Any) -> BaseException | None:
    """The exception a line carries: structlog's ``exc_info=True`` (the one being handled), an exception, or a
    stdlib ``(type, value, traceback)`` triple."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple):
        exc_info = exc_info[1] if len(exc_info) > 1 else None
    return exc_info if isinstance(exc_info, BaseException) else None


def send_log_lines(*, enabled: bool, access_line: bool = False) -> None:
    """Send every log line as a Sentry log from now on, or (``enabled=False``) stop. Safe to call again: it
    replaces, never stacks (tests build many apps in one process)."""
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    if enabled:
        root.addHandler(SentryLogHandler(access_line=access_line))

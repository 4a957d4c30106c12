"""The redaction policy (``app.core.redaction``) applied to log lines: structlog processors and the traceback writer.

Every field of every line goes through it, whichever logger wrote it (structlog, uvicorn, SQLAlchemy, httpx).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from app.core.redaction._names import is_sensitive_key
from app.core.redaction._text import FILTERED
from app.core.redaction._values import MAX_DEPTH, redact, redact_text

if TYPE_CHECKING:
    from structlog.typing import EventDict, ExcInfo, WrappedLogger

# Fields that structlog, the stdlib record or the request context fill in: never secrets, never walked.
SAFE_FIELDS = frozenset({"timestamp", "level", "logger", "request_id", "trace_id", "span_id", "event_id"})
SAFE_FIELDS |= {"_record", "_from_structlog", "exc_info", "stack_info", "positional_args"}


def redact_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Every field of a line, by key name and for secrets in its text (the access line calls it too)."""
    for key, value in event_dict.items():
        if key in SAFE_FIELDS or value is None or isinstance(value, bool | int | float):
            continue
        if is_sensitive_key(key):
            event_dict[key] = FILTERED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
        else:
            event_dict[key] = redact(value)
    return event_dict


def redact_exception(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The messages of a rendered exception chain go through the same rules (its frames are source, not data),
    every member of an exception group included, and groups within groups."""
    rendered = event_dict.get("exception")
    if isinstance(rendered, str):  # a plain-text traceback
        event_dict["exception"] = redact_text(rendered)
    elif isinstance(rendered, list):
        _redact_stacks(rendered, 0)
    return event_dict


def _redact_stacks(stacks: list[Any], depth: int) -> None:
    """structlog's dict traceback: a list of exceptions, each group holding a list of such lists."""
    for exception in stacks:
        if not isinstance(exception, dict):
            continue
        for key in ("exc_value", "exc_notes", "syntax_error"):
            if key in exception:
                exception[key] = redact(exception[key])
        members = exception.get("exceptions")
        if members is None:
            continue
        if depth >= MAX_DEPTH or not isinstance(members, list) or not all(isinstance(m, list) for m in members):
            exception["exceptions"] = FILTERED  # deeper than the walk goes, or not structlog's shape: not shown
            continue
        for member in members:
            _redact_stacks(member, depth + 1)


def redacted_traceback(stream: TextIO, exc_info: ExcInfo) -> None:
    """A console traceback with the same rules on its text (exception messages, locals' reprs)."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    stream.write(redact_text(buffer.getvalue()))

"""The redaction policy (``app.core.redaction``) applied to log lines: structlog processors and the traceback writer.

Every field of every line goes through it, whichever logger wrote it (structlog, uvicorn, SQLAlchemy, httpx).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, TextIO

import structlog

from app.core.redaction import FILTERED, is_sensitive_key, redact, redact_text

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
    """The messages of a rendered exception chain go through the same rules (its frames are source, not data)."""
    rendered = event_dict.get("exception")
    if isinstance(rendered, str):  # a plain-text traceback
        event_dict["exception"] = redact_text(rendered)
    for exception in rendered if isinstance(rendered, list) else []:
        if isinstance(exception, dict):
            for key in ("exc_value", "exc_notes", "syntax_error"):
                if key in exception:
                    exception[key] = redact(exception[key])
    return event_dict


def redacted_traceback(stream: TextIO, exc_info: ExcInfo) -> None:
    """A console traceback with the same rules on its text (exception messages, locals' reprs)."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    stream.write(redact_text(buffer.getvalue()))

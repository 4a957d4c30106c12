"""Structured logging: one pipeline for structlog, uvicorn, SQLAlchemy and alembic records.

JSON lines (orjson) in staging and production, readable console output in development. Every line logged inside
a request carries its ``request_id`` and the Sentry ``trace_id``/``span_id``, so a line and its Sentry event can be
found from each other.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer

from app.core.log_redaction import SAFE_FIELDS, redact_exception, redact_fields, redacted_traceback

if TYPE_CHECKING:
    from starlette.requests import Request
    from structlog.typing import EventDict, Processor, WrappedLogger

    from app.core.config import Settings

ACCESS_LOGGER = "app.access"
# Where a handler leaves its fields for the request's access line (request.state, i.e. scope["state"]).
ACCESS_FIELDS = "access_fields"
_HANDLER_NAME = "app"
# Loggers of libraries whose records go through our pipeline (their own handlers removed).
_FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic", "httpx", "asyncio")

_access_log = structlog.get_logger(ACCESS_LOGGER)
_access_logger = logging.getLogger(ACCESS_LOGGER)
# The handler JSON access lines are written to directly; empty in console mode, where they take the usual path.
_json_handler: list[logging.StreamHandler[Any]] = []


def drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn repeats each message with ANSI colours in ``color_message``."""
    event_dict.pop("color_message", None)
    return event_dict


def _dumps(value: Any, option: int = 0) -> str:
    """orjson, dict keys of any plain type (``{200: 7}``) included; what orjson still refuses (an int past 64 bits)
    the stdlib's json renders: a line is never lost to its values."""
    try:
        return orjson.dumps(value, default=repr, option=option | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = json.dumps(value, default=_iso_or_repr, ensure_ascii=False, skipkeys=True)
        return text + "\n" if option & orjson.OPT_APPEND_NEWLINE else text


def _iso_or_repr(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else repr(value)


def _orjson_dumps(value: Any, **_: Any) -> str:
    return _dumps(value)


def add_to_access_line(request: Request, **fields: Any) -> None:
    """A rejected request (4xx) is told by its access line, with these fields: one line per request, not two."""
    setattr(request.state, ACCESS_FIELDS, fields)


def sql_at_debug(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs each statement at INFO: label it DEBUG, the only level that shows it."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


def log_access(**fields: Any) -> None:
    """Write the one access line of a request.

    It is the hottest line by far: in JSON mode it skips the general pipeline (structlog's processors, a stdlib
    record, ProcessorFormatter) and is rendered here with the same keys and the same timestamp form, for a
    fraction of the cost. The logger's level and ``disabled`` flag still apply.
    """
    if not _json_handler:
        _access_log.info("request", **fields)
        return
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    event = structlog.contextvars.get_contextvars()
    if event.keys() - SAFE_FIELDS:  # something beyond the request's ids was bound: redact it like any field
        redact_fields(None, "", event)
    event.update(fields)
    event["event"] = "request"
    event["level"] = "info"
    event["logger"] = ACCESS_LOGGER
    event["timestamp"] = datetime.now(tz=UTC)  # orjson renders it as TimeStamper(fmt="iso", utc=True) does
    line = _dumps(event, orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
    handler = _json_handler[0]
    handler.acquire()
    try:
        handler.stream.write(line)
        handler.flush()
    finally:
        handler.release()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        drop_color_message,
        redact_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(log_format: str, *, colors: bool) -> Processor:
    if log_format == "console":
        return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=redacted_traceback)
    return structlog.processors.JSONRenderer(serializer=_orjson_dumps)


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger. Safe to call again: it replaces, never stacks."""
    shared = _shared_processors()
    stream = sys.stdout
    exception_processors: list[Processor] = (
        []
        if settings.log_format == "console"
        else [structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)), redact_exception]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_processors,
            # Colours for a person at a terminal only, never into a file or a pipe.
            _renderer(settings.log_format, colors=stream.isatty()),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.LOG_LEVEL)
    _json_handler[:] = [handler] if settings.log_format == "json" else []
    # Caller, thread and process fields are never rendered: skip computing them for every record (logging HOWTO,
    # "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    # Our own middleware writes one access line per request; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # The database driver's thread chatter says nothing a service owner needs, even at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # The Sentry transport's retries while Sentry is unreachable: three warnings per envelope say nothing new.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    # httpx logs every outgoing URL, query string included, at INFO: secrets would reach the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # SQL echo belongs to DEBUG only: SQLAlchemy logs statements at INFO, relabelled DEBUG on the way out.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if settings.LOG_LEVEL == "DEBUG" else logging.WARNING)
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    engine_logger.removeFilter(sql_at_debug)
    engine_logger.addFilter(sql_at_debug)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

"""Structured logging: one pipeline for structlog, uvicorn, SQLAlchemy and alembic records.

JSON lines (orjson) in staging and production, readable console output in development. Every line logged inside
a request carries its ``request_id`` and the Sentry ``trace_id``/``span_id``, so a line and its Sentry event can be
found from each other.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from app.core.access_line import ACCESS_FIELDS, ACCESS_LOGGER, add_to_access_line, log_access, write_json_to
from app.core.log_json import dumps_line
from app.core.redaction import redact_exception, redact_fields, redacted_traceback

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor, WrappedLogger

    from app.core.config import Settings

# The access line's parts, exposed here: this module is the one service code imports for logging.
__all__ = ["ACCESS_FIELDS", "ACCESS_LOGGER", "add_to_access_line", "configure_logging", "log_access"]

_HANDLER_NAME = "app"
# Loggers of libraries whose records go through our pipeline (their own handlers removed).
_FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic", "httpx", "asyncio")


def drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn repeats each message with ANSI colours in ``color_message``."""
    event_dict.pop("color_message", None)
    return event_dict


def _orjson_dumps(value: Any, **_: Any) -> str:
    return dumps_line(value)


def sql_at_debug(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs each statement at INFO: label it DEBUG, the only level that shows it."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


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
    # Access lines sent as Sentry logs take the general path, which every handler of the root logger sees.
    access_to_sentry = settings.SENTRY_ENABLE_LOGS and settings.SENTRY_LOGS_ACCESS_LINE
    write_json_to(handler if settings.log_format == "json" and not access_to_sentry else None)
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
{%- if cookiecutter.include_worker == "yes" %}
    # taskiq logs every job's arguments at DEBUG, unredacted: its lines start at INFO.
    for name in ("taskiq", "taskiq_redis"):
        logging.getLogger(name).setLevel(logging.INFO)
{%- endif %}
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

"""The access line: one line per request, written by the request-context middleware.

A handler adds its own fields with ``add_to_access_line``; the middleware writes the line with ``log_access``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from app.core.log_json import dumps_line
from app.core.redaction import SAFE_FIELDS, redact_fields

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

ACCESS_LOGGER = "app.access"
# Where a handler leaves its fields for the request's access line (request.state, i.e. scope["state"]).
ACCESS_FIELDS = "access_fields"
# What the line says of the request itself, its own keys and the request's ids: the middleware's, never a handler's.
OWN_FIELDS = frozenset({"method", "path", "status", "duration_ms", "event", "level", "logger", "timestamp"})
OWN_FIELDS |= {"request_id", "trace_id", "span_id"}

_access_log = structlog.get_logger(ACCESS_LOGGER)
_access_logger = logging.getLogger(ACCESS_LOGGER)
# The handler JSON access lines are written to directly; empty in console mode, where they take the usual path.
_json_handler: list[logging.StreamHandler[Any]] = []


def write_json_to(handler: logging.StreamHandler[Any] | None) -> None:
    """JSON mode: write access lines straight to this handler; ``None`` (console mode): the usual pipeline."""
    _json_handler[:] = [handler] if handler is not None else []


def add_to_access_line(request: Request, **fields: Any) -> None:
    """A rejected request (4xx) is told by its access line, with these fields: one line per request, not two.

    The request's own fields win: a field named like one of ``OWN_FIELDS`` (``status``, ``path``, ``method``,
    ``duration_ms``, the line's ``event``/``level``/``logger``/``timestamp``, the request's ids) is left out, so the
    line always tells the request's real status and ids.
    """
    setattr(request.state, ACCESS_FIELDS, fields)


def log_access(*, method: str | None, path: str, status: int, duration_ms: float, fields: Mapping[str, Any]) -> None:
    """Write the one access line of a request, with a handler's ``fields`` (see ``add_to_access_line``).

    It is the hottest line by far: in JSON mode it skips the general pipeline (structlog's processors, a stdlib
    record, ProcessorFormatter) and is rendered here with the same keys and the same timestamp form, for a
    fraction of the cost, and the handler's fields go through the same redaction policy as every line's. The
    logger's level and ``disabled`` flag still apply, and a write that fails is handled as
    ``logging.Handler.emit`` handles it (``handleError``): it never fails the request.
    """
    extra = {key: value for key, value in fields.items() if key not in OWN_FIELDS} if fields else {}
    if not _json_handler:
        _access_log.info("request", method=method, path=path, status=status, duration_ms=duration_ms, **extra)
        return
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    event = structlog.contextvars.get_contextvars()
    if event.keys() - SAFE_FIELDS:  # something beyond the request's ids was bound: redact it like any field
        redact_fields(None, "", event)
    event["method"] = method
    event["path"] = path
    event["status"] = status
    event["duration_ms"] = duration_ms
    if extra:  # a handler's fields go through the policy as in any line; the common line has none
        event.update(redact_fields(None, "", extra))
    event["event"] = "request"
    event["level"] = "info"
    event["logger"] = ACCESS_LOGGER
    event["timestamp"] = datetime.now(tz=UTC)  # orjson renders it as TimeStamper(fmt="iso", utc=True) does
    handler = _json_handler[0]
    try:
        line = dumps_line(event, orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        finally:
            handler.release()
    except RecursionError:  # as logging.StreamHandler.emit does
        raise
    except Exception:  # a closed or broken stream: reported as logging reports it, never the request's failure
        handler.handleError(_access_logger.makeRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, event, (), None))

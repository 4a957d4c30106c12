"""Whether the database answers, told in one line: where it is (never the password) and why it does not answer.

The service checks once at start and on each readiness probe through ``DatabaseWatch``, which logs only when the
answer changes; ``alembic`` prints the same description when it cannot connect (``migrations/env.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.core.redaction import FILTERED, redact_text
from app.db.engine import check_database
from app.exceptions import ServiceUnavailableError

if TYPE_CHECKING:
    from sqlalchemy import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

# What connecting raises when the database is away: the drivers' errors as SQLAlchemy wraps them, and the
# socket's own (refused, unknown host, timed out: TimeoutError is an OSError).
CONNECT_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)
_DEFAULT_PORTS = {"postgresql": 5432}
_MAX_REASON = 200

log = structlog.get_logger(__name__)


def location(url: URL) -> dict[str, Any]:
    """Where the database is: host, port and database name (a file's path on SQLite); never user or password."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"database": url.database or ":memory:"}
    return {"host": url.host or "localhost", "port": url.port or _DEFAULT_PORTS.get(backend), "database": url.database}


def failure(url: URL, exc: BaseException) -> dict[str, Any]:
    """What failed: the error's type and the first line of its text, with the URL's password taken out."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    reason = lines[0][:_MAX_REASON] if lines else "no answer in time" if isinstance(cause, TimeoutError) else ""
    if url.password:
        reason = reason.replace(str(url.password), FILTERED)
    return {"error_type": type(cause).__name__, "reason": redact_text(reason)}


def describe_unreachable(url: URL, exc: BaseException) -> str:
    """``cannot reach the database at HOST:PORT (database NAME): TYPE: REASON``, for a person at a terminal."""
    where = location(url)
    what = failure(url, exc)
    place = f"{where['host']}:{where['port']} (database {where['database']})" if "host" in where else where["database"]
    return f"cannot reach the database at {place}: {what['error_type']}: {what['reason']}".rstrip(": ")


class DatabaseWatch:
    """Checks the database and logs when the answer changes: a warning when it stops answering, an info line when
    it answers again. A check that agrees with the previous one logs nothing, so a probe every few seconds during
    an outage adds no line of its own beyond its access line."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.reachable: bool | None = None  # not checked yet

    async def check(self, within_seconds: float) -> bool:
        """``SELECT 1`` within ``within_seconds``: True if the database answered."""
        try:
            await check_database(self._engine, within_seconds)
        except ServiceUnavailableError as exc:
            if self.reachable is not False:
                url = self._engine.url
                log.warning("database unreachable", **location(url), **failure(url, exc.__cause__ or exc))
            self.reachable = False
            return False
        if self.reachable is False:
            log.info("database reachable again", **location(self._engine.url))
        self.reachable = True
        return True

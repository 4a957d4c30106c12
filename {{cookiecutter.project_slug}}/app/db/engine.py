"""The database engines: the service's pooled one with bounded waits, an unpooled one for tools, and its probe.

The lifespan in ``app.main`` builds one engine per process and stores it on ``app.state``; nothing here holds a
global engine. This module imports no FastAPI: migrations use it too.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, make_url, pool, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.exceptions import ServiceUnavailableError

if TYPE_CHECKING:
    from app.core.config import Settings


# The execution option of a transaction that only reads: on SQLite it begins without taking the write lock.
READS_ONLY = "reads_only"


def build_engine(settings: Settings) -> AsyncEngine:
    """An engine for ``settings.DATABASE_URL`` (postgresql+asyncpg or sqlite+aiosqlite) with bounded waits."""
    url = make_url(settings.DATABASE_URL.get_secret_value())
    # Outside development, keep bound values (user data) out of exception messages, logs and Sentry events.
    hide_parameters = settings.ENVIRONMENT != "development"
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            hide_parameters=hide_parameters,
            # How long a writer waits for SQLite's database lock before giving up.
            connect_args={"timeout": settings.DB_STATEMENT_TIMEOUT},
        )
        use_real_sqlite_transactions(engine)
    else:
        engine = create_async_engine(
            url,
            hide_parameters=hide_parameters,
            pool_size=settings.DB_POOL_SIZE,
            max_overflow=settings.DB_MAX_OVERFLOW,
            pool_timeout=settings.DB_POOL_TIMEOUT,
            # A connection the database dropped (restart, failover) is replaced, not handed to a request.
            pool_pre_ping=True,
            connect_args=_asyncpg_connect_args(settings),
        )
    return engine


def use_real_sqlite_transactions(engine: AsyncEngine, *, foreign_keys: bool = True) -> None:
    """Make SQLite behave like PostgreSQL where tests would otherwise pass on one and fail on the other.

    SQLAlchemy, not the sqlite3 driver, emits BEGIN (the recipe of "Serializable isolation / Savepoints /
    Transactional DDL" in SQLAlchemy's SQLite documentation), so that SAVEPOINTs nest inside the transaction.
    The BEGIN is IMMEDIATE: a transaction takes the write lock up front and a concurrent one waits for it (up to
    the connection's timeout), instead of both reading first and one failing with "database is locked" when it
    tries to write. A transaction begun with the execution option ``READS_ONLY`` (a request with a safe method:
    see ``app.db.session``) begins DEFERRED and shares the database with every other reader, as on PostgreSQL.
    With ``foreign_keys``, they are enforced as PostgreSQL does (SQLite's default is off).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        if not foreign_keys:
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        reads_only = connection.get_execution_options().get(READS_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


def build_unpooled_engine(url: str) -> AsyncEngine:
    """An engine for one-off work (migrations, tools): no pool, and on SQLite the service's real transactions.

    Foreign keys stay off here: Alembic's batch mode changes a SQLite table by copying it and dropping the old
    one, and with them on, that drop would refuse (or cascade to) the rows that reference it. SQLite's own
    procedure for schema changes turns them off the same way.
    """
    engine = create_async_engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        use_real_sqlite_transactions(engine, foreign_keys=False)
    return engine


def _asyncpg_connect_args(settings: Settings) -> dict[str, Any]:
    statement_timeout_ms = int(settings.DB_STATEMENT_TIMEOUT * 1000)
    return {
        "timeout": settings.DB_CONNECT_TIMEOUT,
        # The server cancels a statement that runs too long; the client gives up a little later in case
        # the server never answers at all (a dead network path).
        "server_settings": {"statement_timeout": str(statement_timeout_ms)},
        "command_timeout": settings.DB_STATEMENT_TIMEOUT + 1,
    }


async def check_database(engine: AsyncEngine, within_seconds: float) -> None:
    """Run ``SELECT 1`` within ``within_seconds``, or raise ServiceUnavailableError.

    When a pooled connection hangs, SQLAlchemy spends up to 2 more seconds closing it before we answer.
    """
    try:
        async with asyncio.timeout(within_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailableError("The database is not reachable", details={"database": "unavailable"}) from exc

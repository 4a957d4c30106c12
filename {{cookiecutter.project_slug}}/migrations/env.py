"""Alembic environment: migrations run against the service's own settings, models and logging.

The database URL is ``alembic -x dburl=...`` if given, else ``DATABASE_URL`` from the service's settings.
A caller that already holds a connection (the test suite) passes it as ``config.attributes["connection"]``;
the migrations then run on it, and the caller keeps control of logging.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.core.config import get_settings
from app.core.logging import configure_logging
from app.db.base import Base, UTCDateTime
from app.db.engine import build_unpooled_engine
from app.db.reachability import CONNECT_ERRORS, describe_unreachable

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("dburl")
    return url or get_settings().DATABASE_URL.get_secret_value()


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types, so a migration never imports the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**options: Any) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, render_item=render_item, **options)


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> str | None:
    """Run the migrations; if the database cannot be reached, return why, in one line, instead."""
    engine = build_unpooled_engine(database_url())
    try:
        connection = await engine.connect()
    except CONNECT_ERRORS as exc:
        await engine.dispose()
        return describe_unreachable(engine.url, exc)
    try:
        await connection.run_sync(run_migrations)
    finally:
        await connection.close()
        await engine.dispose()
    return None


if context.is_offline_mode():
    run_migrations_offline()
elif (shared_connection := config.attributes.get("connection")) is not None:
    run_migrations(shared_connection)
else:
    configure_logging(get_settings())
    # Alembic says which revision it applies; the DDL of each, even at LOG_LEVEL=DEBUG, is for `--sql` to show.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # An unreachable database is one line, like a bad setting, not a traceback through the driver.
    if (unreachable := asyncio.run(run_migrations_online())) is not None:
        print(f"alembic: {unreachable}", file=sys.stderr)
        raise SystemExit(1)

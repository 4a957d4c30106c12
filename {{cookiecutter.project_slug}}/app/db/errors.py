"""What a database error means for the client: a duplicate (409), a database that is away (503), or a bug (500).

The same failure reads differently on PostgreSQL (a SQLSTATE) and on SQLite (the sqlite3 error code); these
functions answer for both, so that a service behaves alike on either.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

# Unique and exclusion violations: the client sent a value that exists. NOT NULL, CHECK and foreign-key
# violations are the service's own bugs.
DUPLICATE_SQLSTATES = frozenset({"23505", "23P01"})
SQLITE_DUPLICATES = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
# SQLSTATEs of a database that is overloaded, restarting or cancelling our statement (class 08: connection).
UNAVAILABLE_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03", "53300"})
# SQLite's primary result codes for "busy", "locked" and "cannot open the file": everything else (no such
# table, a syntax error) is a bug or a missing migration.
SQLITE_UNAVAILABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN})
# Packages whose frames mark an exception as raised by the database layer.
DATABASE_PACKAGES = frozenset({"sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "psycopg", "psycopg2"})


def _sqlstate(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")


def is_duplicate(exc: IntegrityError) -> bool:
    """A unique or exclusion violation: the request conflicts with existing data."""
    if isinstance(exc.orig, sqlite3.Error):
        return exc.orig.sqlite_errorname in SQLITE_DUPLICATES
    return _sqlstate(exc) in DUPLICATE_SQLSTATES


def constraint_name(exc: IntegrityError) -> str | None:
    """The violated constraint's name (PostgreSQL) or columns (SQLite, ``table.column``): never a value."""
    if isinstance(exc.orig, sqlite3.Error):
        _, sep, columns = str(exc.orig).partition(" constraint failed: ")
        return columns if sep and exc.orig.sqlite_errorname in SQLITE_DUPLICATES else None
    # asyncpg's own error is the adapter's cause; psycopg keeps it in ``diag``.
    for source in (exc.orig.__cause__ if exc.orig else None, getattr(exc.orig, "diag", None)):
        name = getattr(source, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


def is_database_unavailable(exc: DBAPIError) -> bool:
    """A driver error that means "cannot reach or use the database right now", not a bug in our SQL."""
    if isinstance(exc.orig, sqlite3.Error):
        return exc.orig.sqlite_errorcode & 0xFF in SQLITE_UNAVAILABLE_CODES
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    sqlstate = _sqlstate(exc)
    return exc.connection_invalidated or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES


def raised_by_database(exc: BaseException) -> bool:
    """Whether an exception SQLAlchemy does not wrap came from inside it or a driver.

    asyncpg's refused, unresolvable or timed-out connection reaches the service as a bare OSError
    (``ConnectionRefusedError``, ``socket.gaierror``, ``TimeoutError``), and so does its statement timeout. The
    same types raised by the service's own code are its bugs, not an unavailable database.
    """
    traceback = exc.__traceback__
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.partition(".")[0] in DATABASE_PACKAGES:
            return True
        traceback = traceback.tb_next
    return False

"""Database sessions: one per request, and ``SessionDep``, the dependency a route or service declares for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.engine import READS_ONLY

# Methods that read and never change anything (RFC 9110's safe methods): their transactions only read.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READS_ONLY_SESSION = {"execution_options": {READS_ONLY: True}}


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit, so a response can be built from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: committed if the route returns, rolled back if it raises.

    A request with a safe method reads only: on SQLite its transaction takes no write lock, so readers never wait
    for each other (a route that writes belongs behind POST, PUT, PATCH or DELETE).
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    options = _READS_ONLY_SESSION if request.method in SAFE_METHODS else {}
    async with sessionmaker(**options) as session, session.begin():
        yield session


# scope="function": the commit runs when the route returns, before the response is sent, so a failed commit
# becomes an error response instead of a 2xx the client has already received.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

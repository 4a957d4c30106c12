"""The posts service on its own session: conflicts leave the session usable, timestamps keep their zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.db.engine import build_engine
from app.db.session import build_sessionmaker
from app.exceptions import ConflictError
from app.models import Post
from app.schemas.post import PostCreate, PostUpdate
from app.services.post_service import PostService


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(settings)
    yield build_sessionmaker(engine)
    await engine.dispose()


async def titles(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Post.title).order_by(Post.id))).all())


async def test_session_stays_usable_after_a_conflicting_create(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        service = PostService(session)
        await service.create(PostCreate(title="Taken", body=""))
        with pytest.raises(ConflictError) as conflict:
            await service.create(PostCreate(title="Taken", body="again"))
        await service.create(PostCreate(title="Free", body=""))

    assert conflict.value.details == {"field": "title"}
    assert await titles(sessionmaker) == ["Taken", "Free"]


async def test_session_stays_usable_after_a_conflicting_update(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        service = PostService(session)
        await service.create(PostCreate(title="Taken", body=""))
        other = await service.create(PostCreate(title="Other", body=""))
        with pytest.raises(ConflictError):
            await service.update(other.id, PostUpdate(title="Taken"))
        await service.create(PostCreate(title="Free", body=""))

    assert await titles(sessionmaker) == ["Taken", "Other", "Free"]


async def test_a_violation_other_than_a_duplicate_title_is_not_a_conflict(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # A bug upstream of the service, past the schema's validation: the database's NOT NULL catches it.
    unvalidated: dict[str, Any] = {"title": "No body", "body": None}
    async with sessionmaker() as session, session.begin():
        service = PostService(session)
        with pytest.raises(IntegrityError):
            await service.create(PostCreate.model_construct(**unvalidated))


async def test_created_at_is_timezone_aware(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        post = await PostService(session).create(PostCreate(title="When", body=""))

    assert post.created_at.utcoffset() is not None
    async with sessionmaker() as session:
        stored = await session.get(Post, post.id)
    assert stored is not None
    assert stored.created_at == post.created_at

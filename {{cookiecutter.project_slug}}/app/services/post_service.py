"""Domain logic of the worked example: posts with unique titles, and ``PostServiceDep`` for the routes.

Services take and return the API's schemas (``app.schemas``): ORM objects stay inside the service, so a route
only calls a service and returns what it gets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import is_duplicate
from app.db.session import SessionDep
from app.exceptions import ConflictError, NotFoundError
from app.models.post import Post
from app.schemas.post import PostCreate, PostPage, PostRead, PostUpdate
{%- if cookiecutter.include_worker == "yes" %}
from app.worker.tasks import check_post_upstream
{%- endif %}


class PostService:
    """Create, read, update and delete posts in the caller's session; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, data: PostCreate) -> PostRead:
        post = Post(**data.model_dump())
        async with self._unique_title():
            self.session.add(post)
{%- if cookiecutter.include_worker == "yes" %}
        # Enqueued before the request's transaction commits: the job gets the id, and reads nothing of the post.
        await check_post_upstream.kiq(post.id)
{%- endif %}
        return PostRead.model_validate(post)

    async def list_page(self, *, limit: int, offset: int) -> PostPage:
        total = await self.session.scalar(select(func.count()).select_from(Post))
        posts = await self.session.scalars(select(Post).order_by(Post.id).limit(limit).offset(offset))
        return PostPage(
            items=[PostRead.model_validate(post) for post in posts],
            total=total or 0,
            limit=limit,
            offset=offset,
        )

    async def get(self, post_id: int) -> PostRead:
        return PostRead.model_validate(await self._row(post_id))

    async def update(self, post_id: int, data: PostUpdate) -> PostRead:
        post = await self._row(post_id)
        async with self._unique_title():
            for field, value in data.model_dump(exclude_unset=True).items():
                setattr(post, field, value)
        return PostRead.model_validate(post)

    async def delete(self, post_id: int) -> None:
        post = await self._row(post_id)
        await self.session.delete(post)
        await self.session.flush()

    async def _row(self, post_id: int) -> Post:
        post = await self.session.get(Post, post_id)
        if post is None:
            raise NotFoundError(f"Post {post_id} not found", details={"id": post_id})
        return post

    @asynccontextmanager
    async def _unique_title(self) -> AsyncIterator[None]:
        """Make a change inside a SAVEPOINT, flushed on exit: a duplicate title undoes only that change.

        The change must happen inside the block: ``begin_nested()`` flushes pending changes *before* the
        SAVEPOINT, and a failure there would abort the whole transaction instead of the savepoint.
        """
        try:
            async with self.session.begin_nested():
                yield
        except IntegrityError as exc:
            if not is_duplicate(exc):
                raise  # a NOT NULL or CHECK violation is a bug, not the client's conflict
            raise ConflictError("A post with this title already exists", details={"field": "title"}) from exc


async def get_post_service(session: SessionDep) -> PostService:
    return PostService(session)


PostServiceDep = Annotated[PostService, Depends(get_post_service)]

"""/api/v1/posts: the worked example of a CRUD resource."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from app.schemas.errors import ErrorResponse
from app.schemas.fields import ID_MAX
from app.schemas.post import PAGE_MAX_LIMIT, PostCreate, PostPage, PostRead, PostUpdate
from app.services.post_service import PostServiceDep

ERROR: dict[str, Any] = {"model": ErrorResponse}
# FastAPI answers 400 to a body it cannot read as JSON text at all: not UTF-8, or nested too deep.
UNREADABLE_BODY: dict[str, Any] = {**ERROR, "description": "The body could not be read as JSON"}

PostId = Annotated[int, Path(ge=1, le=ID_MAX)]

router = APIRouter(
    prefix="/posts",
    tags=["posts"],
    responses={422: ERROR, 503: {**ERROR, "description": "The database is unavailable"}},
)


@router.post("", status_code=status.HTTP_201_CREATED, responses={400: UNREADABLE_BODY, 409: ERROR})
async def create_post(data: PostCreate, service: PostServiceDep) -> PostRead:
    """Create a post; its title must be unique."""
    return await service.create(data)


@router.get("")
async def list_posts(
    service: PostServiceDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
) -> PostPage:
    """List posts, oldest first, one page at a time."""
    return await service.list_page(limit=limit, offset=offset)


@router.get("/{post_id}", responses={404: ERROR})
async def get_post(post_id: PostId, service: PostServiceDep) -> PostRead:
    """Read one post."""
    return await service.get(post_id)


@router.patch("/{post_id}", responses={400: UNREADABLE_BODY, 404: ERROR, 409: ERROR})
async def update_post(post_id: PostId, data: PostUpdate, service: PostServiceDep) -> PostRead:
    """Change some fields of a post."""
    return await service.update(post_id, data)


@router.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: ERROR})
async def delete_post(post_id: PostId, service: PostServiceDep) -> None:
    """Delete a post."""
    await service.delete(post_id)

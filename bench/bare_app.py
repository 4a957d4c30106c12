"""The baseline: bare FastAPI with the service's routes, and no instrumentation at all.

No Sentry, no structlog, no request-id middleware, FastAPI's own error responses. The route table is the
service's (routers, prefixes, methods), so routing, and a 404's scan of every route, costs the same. The
database read does the same work as the service's ``GET /api/v1/posts/{id}``: one session and one transaction
per request (with the explicit ``BEGIN`` the service uses on SQLite), ``session.get``, a pydantic response model.
Served with ``uvicorn bare_app:app`` from the service's venv, so both run on the same library versions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import api_routes  # type: ignore[import-not-found]  (uvicorn runs this file from bench/)
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, DateTime, String, Text, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Live(BaseModel):
    status: Literal["ok"] = "ok"


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: str = ""


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(os.environ["DATABASE_URL"])

    @event.listens_for(engine.sync_engine, "connect")
    def _driver_stops_beginning(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

# The same route table as the service (routers, prefixes, methods), so that matching, and a 404's scan of every
# route, costs the same. Only the routes the benchmark calls do real work.
health = APIRouter(prefix="/health")
posts = APIRouter(prefix="/posts")
external = APIRouter(prefix="/external")
api = APIRouter(prefix="/api/v1")
debug = APIRouter()


@health.get("/live")
async def live() -> Live:
    return Live()


@health.get("/ready")
async def ready() -> Live:
    return Live()


@posts.post("", status_code=201)
async def create_post(data: PostCreate, session: SessionDep) -> PostRead:
    post = Post(**data.model_dump())
    session.add(post)
    await session.flush()
    return PostRead.model_validate(post)


@posts.get("")
async def list_posts(limit: int = 20, offset: int = 0) -> list[PostRead]:
    return []


@posts.get("/{post_id}")
async def get_post(post_id: int, session: SessionDep) -> PostRead:
    post = await session.get(Post, post_id)
    if post is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return PostRead.model_validate(post)


@posts.patch("/{post_id}")
async def update_post(post_id: int, data: PostCreate) -> None:
    raise HTTPException(status_code=404, detail="Not Found")


@posts.delete("/{post_id}", status_code=204)
async def delete_post(post_id: int) -> None:
    raise HTTPException(status_code=404, detail="Not Found")


@external.get("/resources/{resource_id}")
async def get_resource(resource_id: str) -> dict[str, Any]:
    return {"id": resource_id}


@debug.get("/sentry-debug")
async def sentry_debug() -> None:
    1 / 0  # noqa: B018


api.include_router(posts)
api.include_router(external)
app = FastAPI(lifespan=lifespan)
app.include_router(api_routes.router)  # first, as in service_app.py
app.include_router(health)
app.include_router(api)
app.include_router(debug)

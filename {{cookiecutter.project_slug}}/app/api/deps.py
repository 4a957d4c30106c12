"""Dependencies as `Annotated` aliases, so a route signature says what it needs in one line.

Everything comes from ``request.app.state``, filled by the lifespan in ``app.main``. The providers are
``async def`` although none of them awaits: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
hand-off on every request that would cost more than the whole rest of the dependency.
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.shutdown import Drain
from app.db.session import get_session
from app.services.external_service import ExternalAPIService
from app.services.post_service import PostService


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_drain(request: Request) -> Drain:
    drain: Drain = request.app.state.drain
    return drain


async def get_http_client(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.http_client
    return client


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
# scope="function": commit (or roll back) when the route returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
DrainDep = Annotated[Drain, Depends(get_drain)]
HttpClientDep = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def get_post_service(session: SessionDep) -> PostService:
    return PostService(session)


async def get_external_service(client: HttpClientDep) -> ExternalAPIService:
    return ExternalAPIService(client)


PostServiceDep = Annotated[PostService, Depends(get_post_service)]
ExternalServiceDep = Annotated[ExternalAPIService, Depends(get_external_service)]

"""``SettingsDep``, ``EngineDep``, ``DatabaseWatchDep`` and ``DrainDep``: what the lifespan keeps on ``app.state``.

Settings and the engine are also used where FastAPI is not (migrations, tools), so their dependencies live here,
with the database watch and the drain, which only the probes read; every other dependency sits beside what it
provides (``SessionDep`` in ``app.db.session``{% if cookiecutter.include_examples == "yes" %}, ``PostServiceDep`` in ``app.services.post_service``,
``ExternalAPIDep`` in ``app.clients.external_api``{% endif %}).
Providers are ``async def`` although none of them awaits: FastAPI runs a plain ``def`` dependency in its thread
pool, a thread hand-off on every request that would cost more than the whole rest of the dependency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.shutdown import Drain
from app.db.reachability import DatabaseWatch


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_database_watch(request: Request) -> DatabaseWatch:
    watch: DatabaseWatch = request.app.state.database
    return watch


async def get_drain(request: Request) -> Drain:
    drain: Drain = request.app.state.drain
    return drain


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
DatabaseWatchDep = Annotated[DatabaseWatch, Depends(get_database_watch)]
DrainDep = Annotated[Drain, Depends(get_drain)]

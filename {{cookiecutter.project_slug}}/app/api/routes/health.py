"""Probes for the orchestrator: liveness never touches the database, readiness does."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import EngineDep, SettingsDep
from app.core.paths import HEALTH_PATH_PREFIX
from app.db.engine import check_database
from app.schemas.errors import ErrorResponse

router = APIRouter(prefix=HEALTH_PATH_PREFIX, tags=["health"])


class Live(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"


@router.get("/live")
async def live() -> Live:
    """The process is up and serving requests."""
    return Live()


@router.get("/ready", responses={503: {"model": ErrorResponse, "description": "The database is unavailable"}})
async def ready(engine: EngineDep, settings: SettingsDep) -> Ready:
    """The service can do its work: the database answers within HEALTH_CHECK_TIMEOUT."""
    await check_database(engine, settings.HEALTH_CHECK_TIMEOUT)
    return Ready()

"""Probes for the orchestrator: liveness never touches the database; readiness does, and fails while draining."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import DrainDep, EngineDep, SettingsDep
from app.core.paths import HEALTH_PATH_PREFIX
from app.db.engine import check_database
from app.exceptions import ServiceUnavailableError
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


_UNREADY = {"model": ErrorResponse, "description": "The database is unavailable, or the service is shutting down"}


@router.get("/ready", responses={503: _UNREADY})
async def ready(engine: EngineDep, settings: SettingsDep, drain: DrainDep) -> Ready:
    """The service can take work: it is not shutting down and the database answers within HEALTH_CHECK_TIMEOUT."""
    if drain.started:
        raise ServiceUnavailableError("The service is shutting down", details={"shutdown": "draining"})
    await check_database(engine, settings.HEALTH_CHECK_TIMEOUT)
    return Ready()

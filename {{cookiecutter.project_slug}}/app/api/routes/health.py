"""Probes for the orchestrator: liveness never touches the database; readiness does, and fails while draining."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app.api.deps import DatabaseWatchDep, DrainDep, SettingsDep
from app.core.logging import add_to_access_line
from app.core.paths import HEALTH_PATH_PREFIX
from app.exceptions import ServiceUnavailableError
from app.schemas.errors import ErrorResponse, error_response

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


@router.get("/ready", response_model=Ready, responses={503: _UNREADY})
async def ready(
    request: Request, database: DatabaseWatchDep, settings: SettingsDep, drain: DrainDep
) -> Ready | Response:
    """The service can take work: it is not shutting down and the database answers within HEALTH_CHECK_TIMEOUT."""
    if drain.started:
        return unready(request, "The service is shutting down", {"shutdown": "draining"})
    if not await database.check(settings.HEALTH_CHECK_TIMEOUT):
        return unready(request, "The database is not reachable", {"database": "unavailable"})
    return Ready()


def unready(request: Request, message: str, details: dict[str, str]) -> Response:
    """503 in the error envelope, told by the access line alone: a probe fails every few seconds during an outage,
    and the database watch has logged the change once already."""
    code = ServiceUnavailableError.error_code
    add_to_access_line(request, error=code)
    return error_response(
        status_code=ServiceUnavailableError.status_code,
        error=code,
        message=message,
        details=details,
        request_id=str(request.state.request_id),
    )

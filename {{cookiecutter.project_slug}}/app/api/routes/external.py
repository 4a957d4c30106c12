"""/api/v1/external: the worked example of calling an upstream HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.clients.external_api import ExternalAPIDep
from app.schemas.errors import ErrorResponse

router = APIRouter(prefix="/external", tags=["external"])


@router.get(
    "/resources/{resource_id}",
    responses={
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "The upstream API failed or timed out"},
    },
)
async def get_resource(resource_id: str, external_api: ExternalAPIDep) -> dict[str, Any]:
    """Fetch one resource from the upstream API."""
    return await external_api.fetch_resource(resource_id)

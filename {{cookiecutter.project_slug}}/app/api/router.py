"""Everything under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import external, posts

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(posts.router)
api_router.include_router(external.router)

"""Everything under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter
{% if cookiecutter.include_examples == "yes" %}
from app.api.routes import external, posts
{% endif %}
api_router = APIRouter(prefix="/api/v1")
{%- if cookiecutter.include_examples == "yes" %}
api_router.include_router(posts.router)
api_router.include_router(external.router)
{%- endif %}

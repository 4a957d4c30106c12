"""Request paths the service treats specially: the health probes, and the route template a request matched."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Scope

# Probes are answered, never traced and never reported to Sentry.
HEALTH_PATH_PREFIX = "/health"


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template, e.g. ``/api/v1/tags/{tag_id}``; None when nothing matched."""
    # FastAPI resolves router prefixes into an effective route context; scope["route"].path lacks the prefix.
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else None

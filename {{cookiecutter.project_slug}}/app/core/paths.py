"""Paths the service treats specially: the health probes, the route template a request matched, its own code."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import app

if TYPE_CHECKING:
    from starlette.types import Scope

# Probes are answered, never traced and never reported to Sentry.
HEALTH_PATH_PREFIX = "/health"
# The folder of the service's own package: its frames are in-app (not library frames under the project folder).
APP_PACKAGE_DIR = f"{app.__path__[0]}{os.sep}"


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template, e.g. ``/api/v1/tags/{tag_id}``; None when nothing matched."""
    # FastAPI resolves router prefixes into an effective route context; scope["route"].path lacks the prefix.
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else None

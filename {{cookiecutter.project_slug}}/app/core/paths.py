"""Request paths as the service's routes see them (below the root path, the health probes, the matched route),
and the folder of the service's own code.

Behind a proxy that serves the service under a prefix (``uvicorn --root-path /svc``), uvicorn puts the prefix in
``scope["root_path"]`` and in ``scope["path"]`` too. Every comparison of a request's path with the service's own
paths goes through ``route_path``, which takes the prefix off again, as Starlette does to match routes.
"""

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


def root_path(scope: Scope) -> str:
    """The prefix the server was told the service is served under (``--root-path``); empty when there is none."""
    # Inside a Mount, Starlette extends "root_path" by the mount's path and keeps the server's in "app_root_path".
    return str(scope.get("app_root_path", scope.get("root_path", "")))


def route_path(scope: Scope) -> str:
    """The request's path below the root path (``/svc/health/live`` -> ``/health/live``): what the routes match.

    Starlette's ``get_route_path`` rules: a path that does not start with the root path (a server that keeps the
    prefix out of ``scope["path"]``) is the route path already.
    """
    path, prefix = str(scope.get("path", "")), root_path(scope)
    if not prefix or not path.startswith(prefix):
        return path
    if path == prefix:
        return ""
    return path[len(prefix) :] if path[len(prefix)] == "/" else path


def is_health_path(path: str) -> bool:
    """``/health`` and every path below it, not ``/healthcare``: ``path`` is a route path (see ``route_path``)."""
    return path == HEALTH_PATH_PREFIX or path.startswith(f"{HEALTH_PATH_PREFIX}/")


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template, e.g. ``/api/v1/tags/{tag_id}``; None when nothing matched."""
    # FastAPI resolves router prefixes into an effective route context; scope["route"].path lacks the prefix.
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else None

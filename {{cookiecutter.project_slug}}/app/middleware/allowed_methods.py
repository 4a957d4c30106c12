"""The ``Allow`` header of a 405: every method served at the request's path, read once from the route table.

Starlette answers a wrong method with the methods of the first route whose path matches, and FastAPI registers
one route per method, so its header names one method of several. RFC 9110 (15.5.6) asks for all of them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from fastapi.routing import iter_route_contexts

from app.core.sentry_request import route_template

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

# Where the lifespan keeps the table: request.app.state.<ALLOWED_METHODS>.
ALLOWED_METHODS = "allowed_methods"


def allowed_methods_by_path(routes: Sequence[BaseRoute]) -> dict[str, str]:
    """``{path template: "DELETE, GET, PATCH"}`` for every HTTP route, router prefixes included."""
    methods: defaultdict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(routes):  # included routers resolved, as FastAPI's own OpenAPI does
        if route.path and route.methods:
            methods[route.path] |= route.methods
    return {path: ", ".join(sorted(found)) for path, found in methods.items()}


def allow_header(request: Request) -> dict[str, str]:
    """``{"Allow": ...}`` for the path the router matched; empty when the table does not know it."""
    table: dict[str, str] = getattr(request.app.state, ALLOWED_METHODS, {})
    allow = table.get(route_template(request.scope) or "")
    return {"Allow": allow} if allow else {}

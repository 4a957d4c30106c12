"""The ``Allow`` header of a 405: every method served at the request's path, read once from the route table.

Starlette answers a wrong method with the methods of the first route whose path matches, and FastAPI registers
one route per method, so its header names one method of several. RFC 9110 (15.5.6) asks for all of them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

from app.core.paths import route_path

if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

# Where the lifespan keeps the table: request.app.state.<ALLOWED_METHODS>.
ALLOWED_METHODS = "allowed_methods"

AllowedMethods = list[tuple["re.Pattern[str]", frozenset[str]]]


def allowed_methods_by_path(routes: Sequence[BaseRoute]) -> AllowedMethods:
    """Each HTTP route path (router prefixes included) as the regex that matches it, with all its methods."""
    methods: defaultdict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(routes):  # included routers resolved, as FastAPI's own OpenAPI does
        if route.path and route.methods:
            methods[route.path] |= route.methods
    return [(compile_path(path)[0], frozenset(found)) for path, found in methods.items()]


def allow_header(request: Request) -> dict[str, str]:
    """``{"Allow": "DELETE, GET, PATCH"}``: the methods of every route matching the path; empty before start-up."""
    table: AllowedMethods = getattr(request.app.state, ALLOWED_METHODS, [])
    path = route_path(request.scope)  # what the routes match: the path below the root path
    allowed = {method for regex, methods in table if regex.match(path) for method in methods}
    return {"Allow": ", ".join(sorted(allowed))} if allowed else {}

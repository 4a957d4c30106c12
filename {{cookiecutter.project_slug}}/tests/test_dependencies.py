"""The service's dependency providers run on the event loop, never in FastAPI's thread pool."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_origin

from fastapi.params import Depends

from app.api import deps


def providers() -> Iterator[Callable[..., Any]]:
    """The function behind each ``Annotated[..., Depends(...)]`` alias of ``app.api.deps``."""
    for alias in vars(deps).values():
        if get_origin(alias) is Annotated:
            for meta in alias.__metadata__:
                if isinstance(meta, Depends) and meta.dependency is not None:
                    yield meta.dependency


def test_the_service_providers_are_async() -> None:
    """FastAPI runs a plain ``def`` dependency in its thread pool: a thread hand-off on every request.

    That is right for a dependency that blocks; the service's providers only read ``app.state`` and open
    sessions, so they are ``async def``.
    """
    found = list(providers())
    assert {call.__name__ for call in found} >= {"get_session", "get_post_service", "get_app_settings"}
    in_thread_pool = [
        call.__qualname__
        for call in found
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    ]
    assert in_thread_pool == []

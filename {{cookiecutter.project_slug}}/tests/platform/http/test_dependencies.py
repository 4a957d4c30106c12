"""The service's dependency providers run on the event loop, never in FastAPI's thread pool."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_origin

from fastapi.params import Depends

import app as app_package

SENTRY_PARTS = "app.core._sentry."


def providers() -> Iterator[Callable[..., Any]]:
    """The function behind each ``Annotated[..., Depends(...)]`` alias of every module of the service (but the
    parts behind the Sentry door, which hold none, and some of which only one major of sentry-sdk can import)."""
    for info in pkgutil.walk_packages(app_package.__path__, prefix="app."):
        if info.name.startswith(SENTRY_PARTS):
            continue
        module = importlib.import_module(info.name)
        for alias in vars(module).values():
            if get_origin(alias) is not Annotated:
                continue
            for meta in alias.__metadata__:
                if isinstance(meta, Depends) and meta.dependency is not None:
                    yield meta.dependency


def test_the_service_providers_are_async() -> None:
    """FastAPI runs a plain ``def`` dependency in its thread pool: a thread hand-off on every request.

    That is right for a dependency that blocks; the service's providers only read ``app.state`` and open
    sessions, so they are ``async def``.
    """
    found = list(providers())
    names = {call.__name__ for call in found}
    assert names >= {"get_session", "get_app_settings", "get_engine", "get_drain"}
    in_thread_pool = [
        call.__qualname__
        for call in found
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    ]
    assert in_thread_pool == []

"""Routes that prove the error pipeline end to end. Not mounted in production unless enabled."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["debug"])


@router.get("/sentry-debug", summary="Raise an unexpected error to test Sentry")
async def sentry_debug() -> None:
    """Raise ZeroDivisionError: the response is a 500 envelope whose event_id is the Sentry event."""
    1 / 0  # noqa: B018

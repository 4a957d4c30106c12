"""The lifespan: what start-up builds is kept out of the garbage collector's scans until shutdown."""

from __future__ import annotations

import gc

from fastapi import FastAPI


async def test_startup_objects_are_frozen_while_serving_and_released_at_shutdown(app: FastAPI) -> None:
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        # Everything start-up built, the app and its routes among them: far more than a handful of objects.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0

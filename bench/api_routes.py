"""Routes of the kind a service's authors write, served first by both sides of the benchmark.

bare_app.py and service_app.py put this router at the head of their route tables, so both match these paths at
the same cost, and the service's traces sampler treats them like any API route (health probes are never traced).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/ok")
async def ok() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}

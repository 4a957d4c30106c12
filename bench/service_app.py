"""The baked service with the benchmark's API routes at the head of its route table: ``uvicorn service_app:app``.

Run with the baked project as the app folder and this folder on PYTHONPATH (see bench/run.py).
"""

from __future__ import annotations

from api_routes import router  # type: ignore[import-not-found]
from app.main import create_app  # type: ignore[import-not-found]

app = create_app()
_service_routes = len(app.router.routes)
app.include_router(router)
app.router.routes[:] = app.router.routes[_service_routes:] + app.router.routes[:_service_routes]

"""A baked service reports its errors to Sentry under the release `<slug>@<version>`, whatever the answers.

Each bake runs its own app in the end-to-end tier's cached virtualenv, with an in-process transport that keeps
the events, and fails one request on purpose; the release is read from the event the SDK would have sent.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.service import BakedService
from tests.support.baking import Baked

pytestmark = pytest.mark.slow

RUN_TIMEOUT_SECONDS = 120

REPORTED_RELEASES = """
import asyncio, json

import httpx
from sentry_sdk.transport import Transport

from app.core.config import Settings
from app.main import create_app


class KeepEvents(Transport):
    def __init__(self) -> None:
        super().__init__({})
        self.events = []

    def capture_envelope(self, envelope) -> None:
        self.events += [item.payload.json for item in envelope.items if item.type == "event"]


async def main() -> None:
    transport = KeepEvents()
    settings = Settings(_env_file=None, SENTRY_DSN="https://public@sentry.invalid/1", ENABLE_DEBUG_ROUTES=True)
    app = create_app(settings, sentry_transport=transport)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=asgi, base_url="http://service") as client:
            assert (await client.get("/sentry-debug")).status_code == 500
    print(json.dumps([event["release"] for event in transport.events]))


asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("answers", "release"),
    [
        ({"project_name": "Acme Orders"}, "acme-orders@0.1.0"),
        ({"project_slug": "billing-api", "version": "2.3.0rc1"}, "billing-api@2.3.0rc1"),
        ({"project_slug": "x9", "version": "10.4.2.post1"}, "x9@10.4.2.post1"),
    ],
)
def test_events_carry_the_release_slug_at_version(
    bake: Callable[..., Baked], tmp_path: Path, answers: dict[str, str], release: str
) -> None:
    service = BakedService.prepare(bake(tmp_path, **answers).project)
    result = subprocess.run(
        [str(service.python), "-c", REPORTED_RELEASES],
        cwd=service.project,
        env=service.environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [release]

"""Units of work side by side: no event carries another unit's request id, anywhere (tags, breadcrumbs, contexts)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import structlog
from fastapi import BackgroundTasks, FastAPI, WebSocket

from tests.conftest import Events
from tests.support.units import event_text
from tests.support.websocket import converse

log = structlog.get_logger(__name__)
# Units of each kind: fewer than the repeated-error limiter's burst, so that every failure has its event.
ROUNDS = 8


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    async def failing_task(item: str) -> None:
        log.info("task started", item=item)
        await asyncio.sleep(0)  # let the other units run in between
        raise RuntimeError(f"task for {item} failed")

    @app.post("/items/{item}", status_code=202)
    async def accept_item(item: str, tasks: BackgroundTasks, fail: bool = False) -> None:
        log.info("item accepted", item=item)
        await asyncio.sleep(0)
        if fail:
            tasks.add_task(failing_task, item)

    @app.websocket("/feeds/{feed}")
    async def feed(websocket: WebSocket, feed: str) -> None:
        await websocket.accept()
        log.info("feed opened", feed=feed)
        await websocket.receive_text()
        await asyncio.sleep(0)
        raise RuntimeError(f"feed {feed} broke")

    return app


async def test_no_event_of_interleaved_requests_and_connections_carries_another_units_id(
    app: FastAPI, client: httpx.AsyncClient, events: Events
) -> None:
    failing = [f"bg-{n:02d}-x" for n in range(ROUNDS)]
    passing = [f"ok-{n:02d}-x" for n in range(ROUNDS)]
    sockets = [f"ws-{n:02d}-x" for n in range(ROUNDS)]

    await asyncio.gather(
        *(client.post(f"/items/{rid}", params={"fail": True}, headers={"X-Request-ID": rid}) for rid in failing),
        *(client.post(f"/items/{rid}", headers={"X-Request-ID": rid}) for rid in passing),
        *(converse(app, f"/feeds/{rid}", ["hi"], request_id=rid) for rid in sockets),
    )

    sent = events()
    every_id = {*failing, *passing, *sockets}
    assert sorted(event["tags"]["request_id"] for event in sent) == sorted([*failing, *sockets])
    event_ids = {event["event_id"] for event in sent}
    foreign = {
        event["tags"]["request_id"]: sorted(
            other
            for other in (every_id - {event["tags"]["request_id"]}) | (event_ids - {event["event_id"]})
            if other in event_text(event)
        )
        for event in sent
    }
    assert {rid: others for rid, others in foreign.items() if others} == {}

"""Background coroutines: spawn() ties a failure to its spawner; the loop reports a task nobody awaited, once."""

from __future__ import annotations

import asyncio
import gc
import io

import httpx
import pytest
import structlog
from fastapi import FastAPI

from app.core.sentry import spawn
from tests.conftest import Events
from tests.support.units import breadcrumb_messages, event_text, lines_of, log_lines, trace_id

log = structlog.get_logger(__name__)
# Tasks the routes below start, so that a test can wait for them: a service need not keep them.
started: list[asyncio.Task[None]] = []


async def send_receipt(order: str) -> None:
    log.info("sending receipt", order=order)
    raise RuntimeError(f"receipt for order {order} bounced")


async def forgotten(order: str) -> None:
    raise RuntimeError(f"order {order} was never audited")


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/orders/{order}/receipt", status_code=202)
    async def order_receipt(order: str) -> None:
        log.info("receipt ordered", order=order)
        started.append(spawn(send_receipt(order), name=f"receipt-{order}"))

    @app.post("/orders/{order}/audit", status_code=202)
    async def order_audit(order: str) -> None:
        started.append(asyncio.create_task(forgotten(order)))

    return app


async def finish_started_tasks() -> None:
    """Wait for the routes' tasks without retrieving their exceptions, then let them go, as a service would."""
    await asyncio.wait(started)
    started.clear()
    gc.collect()


async def test_a_spawned_tasks_failure_is_one_event_with_the_spawning_requests_id_route_and_trace(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    response = await client.post("/orders/7/receipt", headers={"X-Request-ID": "order-7"})
    await finish_started_tasks()

    assert response.status_code == 202
    (event,) = events()
    assert event["tags"]["request_id"] == "order-7"
    assert event["transaction"] == "/orders/{order}/receipt"
    lines = lines_of(log_stream, "order-7")
    assert [line["event"] for line in lines if line["level"] == "error"] == ["spawned task failed"]
    assert {line["trace_id"] for line in lines} == {trace_id(event)}


async def test_a_spawned_task_nobody_awaits_is_not_reported_again_by_the_loop(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    await client.post("/orders/7/receipt")
    await finish_started_tasks()

    assert len(events()) == 1
    assert [line["event"] for line in log_lines(log_stream) if line["level"] == "error"] == ["spawned task failed"]


async def test_a_spawned_task_carries_its_spawners_breadcrumbs_and_no_other_units(
    client: httpx.AsyncClient, events: Events
) -> None:
    await client.post("/orders/1/receipt", headers={"X-Request-ID": "order-1"})
    await client.post("/orders/2/receipt", headers={"X-Request-ID": "order-2"})
    await finish_started_tasks()

    _, second = events()
    assert "order-1" not in event_text(second)
    assert breadcrumb_messages(second) == ["receipt ordered", "sending receipt"]


async def test_a_spawned_task_is_held_until_done_though_its_spawner_keeps_no_reference(
    client: httpx.AsyncClient,
) -> None:
    running = asyncio.Event()

    async def wait_on_a_future_only_it_holds() -> None:
        running.set()
        await asyncio.get_running_loop().create_future()

    spawn(wait_on_a_future_only_it_holds(), name="unreferenced")
    await running.wait()
    gc.collect()

    (task,) = [task for task in asyncio.all_tasks() if task.get_name() == "unreferenced"]
    task.cancel()


async def test_a_plain_task_that_fails_unawaited_is_one_event_and_one_log_line(
    client: httpx.AsyncClient, events: Events, log_stream: io.StringIO
) -> None:
    await client.post("/orders/9/audit")
    await finish_started_tasks()

    (event,) = events()
    assert event["exception"]["values"][-1]["value"] == "order 9 was never audited"
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
    errors = [line for line in log_lines(log_stream) if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["event"].startswith("Task exception was never retrieved")

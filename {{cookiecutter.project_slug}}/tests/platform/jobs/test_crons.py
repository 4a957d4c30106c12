"""Scheduled jobs as Sentry Crons: in_progress, then ok or error, with the monitor config of their schedule."""

from __future__ import annotations

from typing import Any

import httpx
import sentry_sdk

from app.core.sentry import before_send
from app.worker.scheduler import scheduler
from tests.conftest import Events
from tests.support.jobs import SCHEDULE, finish_jobs, scheduled
from tests.support.sentry import CapturingTransport

MONITOR_CONFIG = {
    "schedule": {"type": "crontab", "value": "*/5 * * * *"},
    "timezone": "Europe/Berlin",
    "checkin_margin": 2,
    "max_runtime": 3,
    "failure_issue_threshold": 4,
}


async def run_schedule(*, fail: bool) -> None:
    """Do what the scheduler does when the schedule is due: enqueue its run; then wait for the run."""
    [source] = scheduler.sources
    await source.startup()
    [due] = [task for task in await source.get_schedules() if task.schedule_id == SCHEDULE]
    await scheduler.on_ready(source, due.model_copy(update={"kwargs": {"fail": fail}}))
    await finish_jobs()


def check_ins(transport: CapturingTransport) -> list[dict[str, Any]]:
    sentry_sdk.flush()
    return transport.items("check_in")


async def test_a_scheduled_run_checks_in_in_progress_then_ok_with_its_monitor_config(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, events: Events
) -> None:
    await run_schedule(fail=False)

    started, finished = check_ins(sentry_transport)
    assert (started["status"], finished["status"]) == ("in_progress", "ok")
    assert started["monitor_slug"] == finished["monitor_slug"] == SCHEDULE
    assert started["check_in_id"] == finished["check_in_id"]
    assert started["monitor_config"] == MONITOR_CONFIG
    assert finished["duration"] >= 0
    assert events() == []


async def test_a_failed_scheduled_run_checks_in_error_and_is_one_event(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, events: Events
) -> None:
    await run_schedule(fail=True)

    assert [item["status"] for item in check_ins(sentry_transport)] == ["in_progress", "error"]
    [event] = events()
    assert event["tags"]["task_name"] == "tests.scheduled"


async def test_a_run_enqueued_by_hand_does_not_check_in(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport
) -> None:
    await scheduled.kiq(fail=False)
    await finish_jobs()

    assert check_ins(sentry_transport) == []


def test_a_check_in_passes_before_send_unchanged() -> None:
    check_in = {"type": "check_in", "monitor_slug": SCHEDULE, "status": "ok", "monitor_config": dict(MONITOR_CONFIG)}

    assert before_send(dict(check_in), {}) == check_in  # type: ignore[arg-type]

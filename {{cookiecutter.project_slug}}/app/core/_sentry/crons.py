"""Scheduled jobs as Sentry Crons monitors: a run checks in ``in_progress``, then ``ok`` or ``error``.

Each check-in carries the monitor config built from the schedule that started the run (cron expression, timezone,
margin, maximum runtime, failure threshold), so Sentry creates or updates the monitor from the code, and shows a run
that fails, overruns or never starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sentry_sdk.crons import MonitorStatus, capture_checkin

if TYPE_CHECKING:
    from sentry_sdk.types import MonitorConfig
    from taskiq import AsyncBroker, TaskiqMessage


def monitor_config(entry: Mapping[str, Any]) -> MonitorConfig:
    """Sentry's monitor config for one entry of a task's ``schedule`` label (see ``app.worker.schedules``)."""
    monitor = entry.get("monitor") or {}
    config: MonitorConfig = {"schedule": {"type": "crontab", "value": str(entry["cron"])}}
    if isinstance(entry.get("cron_offset"), str):
        config["timezone"] = entry["cron_offset"]
    if "checkin_margin" in monitor:
        config["checkin_margin"] = int(monitor["checkin_margin"])
    if "max_runtime" in monitor:
        config["max_runtime"] = int(monitor["max_runtime"])
    if "failure_issue_threshold" in monitor:
        config["failure_issue_threshold"] = int(monitor["failure_issue_threshold"])
    return config


def schedule_entry(broker: AsyncBroker, message: TaskiqMessage) -> Mapping[str, Any] | None:
    """The cron entry of the task's ``schedule`` label that enqueued this run (the scheduler labels it with the
    entry's ``schedule_id``), or None for a run no declared cron schedule started."""
    slug = message.labels.get("schedule_id")
    task = broker.find_task(message.task_name) if slug else None
    entries = task.labels.get("schedule", []) if task is not None else []
    return next((item for item in entries if item.get("schedule_id") == slug and "cron" in item), None)


def check_in_started(entry: Mapping[str, Any], check_in_id: str | None) -> str | None:
    """Say the run started (a retry repeats its first attempt's ``check_in_id``); return the check-in's id."""
    return capture_checkin(
        monitor_slug=str(entry["schedule_id"]),
        check_in_id=check_in_id,
        status=MonitorStatus.IN_PROGRESS,
        monitor_config=monitor_config(entry),
    )


def check_in_finished(slug: str, check_in_id: str, *, failed: bool, duration: float) -> None:
    """Say how the run ended, and how long it took, in seconds."""
    capture_checkin(
        monitor_slug=slug,
        check_in_id=check_in_id,
        status=MonitorStatus.ERROR if failed else MonitorStatus.OK,
        duration=duration,
    )

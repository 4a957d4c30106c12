"""``cron()``: one entry of a task's ``schedule`` label, which the scheduler runs and Sentry Crons watches.

The entry's ``schedule_id`` is the Sentry monitor's slug; each run checks in ``in_progress`` when it starts and
``ok`` or ``error`` when it ends (a retried run once, at its last attempt), with the monitor config below, so a run
that fails, overruns ``max_runtime`` or never starts (the scheduler is down) shows in Sentry.
"""

from __future__ import annotations

from typing import Any


def cron(
    expression: str,
    *,
    slug: str,
    timezone: str = "UTC",
    checkin_margin: int = 5,
    max_runtime: int = 30,
    failure_issue_threshold: int = 1,
    kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run at ``expression`` (five cron fields) in ``timezone``, as monitor ``slug`` (lower-case, hyphens).

    Sentry opens an issue after ``failure_issue_threshold`` failed or missed runs in a row, counts a run as missed
    ``checkin_margin`` minutes after its time, and as failed ``max_runtime`` minutes after it started.
    """
    return {
        "cron": expression,
        "cron_offset": timezone,
        "schedule_id": slug,
        "kwargs": kwargs or {},
        "monitor": {
            "checkin_margin": checkin_margin,
            "max_runtime": max_runtime,
            "failure_issue_threshold": failure_issue_threshold,
        },
    }

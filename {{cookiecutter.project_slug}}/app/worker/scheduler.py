"""The scheduler, which ``make scheduler`` (``taskiq scheduler``) runs: it enqueues each task at its ``schedule``.

Run exactly one: two schedulers enqueue every run twice. The schedules are the tasks' own ``schedule`` labels
(``app.worker.schedules.cron``), read when it starts; the runs are jobs like any other, run by the workers.
"""

from __future__ import annotations

from taskiq import TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource

from app.worker.broker import broker

scheduler = TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])

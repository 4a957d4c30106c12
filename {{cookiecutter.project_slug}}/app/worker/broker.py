"""The job broker, one per process, chosen by ``BROKER_URL`` when this module is first imported.

``memory://`` runs each job in the process that enqueues it (development and the tests), on that process's
resources. ``redis://`` appends it to a Redis stream, which ``make worker`` (``taskiq worker``) reads as a consumer
group and acknowledges only once the job has run: a job whose worker died is handed to another worker after
``BROKER_REDELIVERY_SECONDS``, so every job the broker accepted runs at least once, and may run twice.
A worker process opens its own settings, logging, Sentry, database engine and clients when it starts.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import structlog
from pydantic import ValidationError
from taskiq import AsyncBroker, InMemoryBroker, SimpleRetryMiddleware, TaskiqEvents, TaskiqState
from taskiq_redis import RedisStreamBroker

{% if cookiecutter.include_examples == "yes" -%}
from app.clients.external_api import ExternalAPIClient
{% endif -%}
from app.core.config import MEMORY_BROKER, BrokerSettings, Settings, describe_errors, env_files, get_settings
from app.core.logging import configure_logging
from app.core.redaction import configure as configure_redaction
from app.core.sentry import flush_sentry, init_sentry, sentry_job_middleware, sentry_status, trace_queries
from app.db.engine import build_engine
from app.db.session import build_sessionmaker

log = structlog.get_logger(__name__)
# How long the lock around a worker's reclaiming of abandoned jobs lives: a worker killed while holding it must not
# stop every other worker from reclaiming.
RECLAIM_LOCK_SECONDS = 10.0
# Retries are opt-in per task (the labels retry_on_error=True, max_retries=N).
DEFAULT_RETRIES = 3


def build_broker(settings: BrokerSettings) -> AsyncBroker:
    """The broker ``settings.BROKER_URL`` names, with retries and Sentry for every job."""
    url = settings.BROKER_URL.get_secret_value()
    broker: AsyncBroker
    if url == MEMORY_BROKER:
        broker = InMemoryBroker()
    else:
        broker = RedisStreamBroker(
            url,
            queue_name=settings.BROKER_QUEUE,
            consumer_group_name=settings.BROKER_QUEUE,
            idle_timeout=round(settings.BROKER_REDELIVERY_SECONDS * 1000),
            unacknowledged_lock_timeout=RECLAIM_LOCK_SECONDS,
        )
    # Hooks on failure run in reverse order: Sentry's sees a failure before the retry middleware sends the retry.
    return broker.with_middlewares(SimpleRetryMiddleware(default_retry_count=DEFAULT_RETRIES), sentry_job_middleware())


def _broker_settings() -> BrokerSettings:
    try:
        return BrokerSettings(_env_file=env_files())
    except ValidationError as error:
        print(*describe_errors(error), sep="\n", file=sys.stderr)  # logging is not configured yet
        raise SystemExit(1) from None


broker = build_broker(_broker_settings())


def runs_in_process() -> bool:
    """Whether jobs run in the process that enqueues them (``memory://``)."""
    return isinstance(broker, InMemoryBroker)


async def start_enqueuing(**resources: Any) -> None:
    """Open the broker in the service, where jobs are enqueued; in process, jobs run on the service's ``resources``
    (settings, engine, sessionmaker, clients), as a worker's jobs run on the worker's."""
    for name, value in resources.items():
        setattr(broker.state, name, value)
    if not runs_in_process():
        await broker.startup()


async def stop_enqueuing() -> None:
    """Close the broker in the service; in process, wait for the jobs still running first."""
    if isinstance(broker, InMemoryBroker):
        await broker.wait_all()
    else:
        await broker.shutdown()


def _set_up_process() -> tuple[Settings, bool]:
    """Settings, redaction, logging and Sentry, as ``create_app`` sets them up; return whether Sentry is on."""
    settings = get_settings()
    configure_redaction(settings.REDACT_EXTRA_KEYS)
    configure_logging(settings)
    return settings, init_sentry(settings)


@broker.on_event(TaskiqEvents.CLIENT_STARTUP)
async def _start_scheduler(state: TaskiqState) -> None:
    """The scheduler process (``make scheduler``) logs and reports as the service does; the service has done both."""
    if broker.is_scheduler_process:
        settings, sentry_enabled = _set_up_process()
        # SIGTERM stops the scheduler as Ctrl-C does (its loop is cancelled, it closes the broker) but exits 0.
        main = asyncio.current_task()
        if main is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        log.info(
            "scheduler started", environment=settings.ENVIRONMENT, **sentry_status(settings, enabled=sentry_enabled)
        )


@broker.on_event(TaskiqEvents.CLIENT_SHUTDOWN)
async def _stop_scheduler(state: TaskiqState) -> None:
    if broker.is_scheduler_process:
        log.info("scheduler stopped")
        flush_sentry()


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def _start_worker(state: TaskiqState) -> None:
    """Set up a worker process as ``create_app`` sets up the service, and open what its jobs use."""
    settings, sentry_enabled = _set_up_process()
    engine = build_engine(settings)
    if sentry_enabled:
        trace_queries(engine)
    state.settings = settings
    state.engine = engine
    state.sessionmaker = build_sessionmaker(engine)
{%- if cookiecutter.include_examples == "yes" %}
    state.external_api = ExternalAPIClient.open(settings)
{%- endif %}
    log.info("worker started", environment=settings.ENVIRONMENT, **sentry_status(settings, enabled=sentry_enabled))


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def _stop_worker(state: TaskiqState) -> None:
    """Close what ``_start_worker`` opened, then send what Sentry still holds."""
    try:
{%- if cookiecutter.include_examples == "yes" %}
        await state.external_api.aclose()
{%- endif %}
        await state.engine.dispose()
    finally:
        log.info("worker stopped")
        flush_sentry()

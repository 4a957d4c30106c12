"""Throwaway jobs on the service's broker for the platform's job tests, and the helpers that run them.

The suite's broker is the in-memory one (``tests/__init__.py``): a job enqueued with ``kiq`` runs in a task of its
own at once; ``finish_jobs`` waits for it and for every retry it enqueued.
"""

from __future__ import annotations

from collections import Counter
{%- if cookiecutter.include_examples == "yes" %}
from collections.abc import AsyncIterator, Callable
{%- endif %}
from typing import Any

{% if cookiecutter.include_examples == "yes" -%}
import httpx
import pytest
{% endif -%}
import structlog
from fastapi import APIRouter, FastAPI
from sentry_sdk.transport import Transport
from taskiq import Context, InMemoryBroker, TaskiqDepends

{% if cookiecutter.include_examples == "yes" -%}
from app.clients.external_api import ExternalAPIClient
{% endif -%}
from app.core.config import Settings
from app.worker.broker import broker
{%- if cookiecutter.include_examples == "yes" %}
from app.worker.deps import job_external_api
{%- endif %}
from app.worker.schedules import cron
from tests.support.notes import create_test_app

log = structlog.get_logger("tests.jobs")

MAX_ATTEMPTS = 3
SCHEDULE = "tests-every-five-minutes"
# How many times each job (by id) has started.
runs: Counter[str] = Counter()


class JobFailedError(RuntimeError):
    """What the throwaway jobs raise."""


async def _fail(note: str = "", context: Context = TaskiqDepends()) -> None:
    runs[context.message.task_id] += 1
    log.info("job about to fail", step="before")
    raise JobFailedError(f"the job failed: {note}")


async def _fail_first_attempt(context: Context = TaskiqDepends()) -> str:
    runs[context.message.task_id] += 1
    if runs[context.message.task_id] == 1:
        raise JobFailedError("the first attempt failed")
    return "done"


async def _log(**arguments: Any) -> None:
    log.info("job ran", arguments=arguments)


async def _fail_with(**arguments: Any) -> None:
    log.info("job received", **arguments)
    raise JobFailedError(f"could not use {arguments.get('text')}")


async def _scheduled(fail: bool = False) -> None:
    if fail:
        raise JobFailedError("the scheduled run failed")


fails = broker.register_task(_fail, task_name="tests.fails")
fails_every_attempt = broker.register_task(
    _fail, task_name="tests.fails_every_attempt", retry_on_error=True, max_retries=MAX_ATTEMPTS
)
fails_first_attempt = broker.register_task(
    _fail_first_attempt, task_name="tests.fails_first_attempt", retry_on_error=True, max_retries=MAX_ATTEMPTS
)
logs = broker.register_task(_log, task_name="tests.logs")
fails_with = broker.register_task(_fail_with, task_name="tests.fails_with")
scheduled = broker.register_task(
    _scheduled,
    task_name="tests.scheduled",
    schedule=[
        cron(
            "*/5 * * * *",
            slug=SCHEDULE,
            timezone="Europe/Berlin",
            checkin_margin=2,
            max_runtime=3,
            failure_issue_threshold=4,
            kwargs={"fail": False},
        )
    ],
)
JOBS = {task.task_name: task for task in (fails, fails_every_attempt, fails_first_attempt, fails_with, logs)}


async def finish_jobs() -> None:
    """Wait for every job enqueued so far, each retry included (a retry is enqueued as its attempt ends)."""
    assert isinstance(broker, InMemoryBroker), "the suite runs its jobs in process"
    for _ in range(MAX_ATTEMPTS + 1):
        await broker.wait_all()


def mount_test_jobs(app: FastAPI) -> None:
    """``POST /api/v1/test-jobs/{name}`` enqueues the named job with the JSON body as its keyword arguments."""
    router = APIRouter(prefix="/api/v1/test-jobs")

    @router.post("/{name}")
    async def enqueue(name: str, arguments: dict[str, Any]) -> dict[str, str]:
        job = await JOBS[name].kiq(**arguments)
        return {"job_id": job.task_id}

    app.include_router(router)


def create_job_app(settings: Settings, *, sentry_transport: Transport | None = None) -> FastAPI:
    """The service with the tests' notes and ``/api/v1/test-jobs`` mounted."""
    app = create_test_app(settings, sentry_transport=sentry_transport)
    mount_test_jobs(app)
    return app
{%- if cookiecutter.include_examples == "yes" %}


Handler = Callable[[httpx.Request], httpx.Response]


class JobUpstream:
    """The upstream API the example job calls, answered by ``handler`` (200 and an empty object until changed)."""

    def __init__(self) -> None:
        self.handler: Handler = lambda request: httpx.Response(200, json={})
        self.requests: list[httpx.Request] = []
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self._answer), base_url="https://upstream.test")

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    async def client(self) -> ExternalAPIClient:
        return ExternalAPIClient(self.http)


@pytest.fixture(autouse=True)
async def job_upstream() -> AsyncIterator[JobUpstream]:
    """Every test's jobs reach a stub of the upstream, never the network (creating a post enqueues a job)."""
    upstream = JobUpstream()
    broker.dependency_overrides[job_external_api] = upstream.client
    yield upstream
    broker.dependency_overrides.pop(job_external_api, None)
    await upstream.http.aclose()
{%- endif %}

"""Background jobs as units of work: one event per job that fails for good, the enqueuing request's trace and id."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Events, MakeSettings, open_client
from tests.support.jobs import MAX_ATTEMPTS, create_job_app, fails, finish_jobs, runs
from tests.support.sentry import FAKE_DSN, CapturingTransport

REQUEST_ID = "req-jobs-0001"


async def enqueue(client: httpx.AsyncClient, name: str, **arguments: Any) -> str:
    """Enqueue a job over HTTP, as a route would, and wait for it (and its retries) to finish; return its id."""
    response = await client.post(f"/api/v1/test-jobs/{name}", json=arguments, headers={"X-Request-ID": REQUEST_ID})
    assert response.status_code == 200, response.text
    await finish_jobs()
    job_id: str = response.json()["job_id"]
    return job_id


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_a_failed_job_is_one_event_tagged_with_the_job_and_the_enqueuing_request(
    client: httpx.AsyncClient, events: Events
) -> None:
    job_id = await enqueue(client, "tests.fails", note="first")

    [event] = events()
    assert event["transaction"] == "tests.fails"
    assert event["exception"]["values"][-1]["type"] == "JobFailedError"
    tags = event["tags"]
    assert (tags["job_id"], tags["task_name"], tags["request_id"]) == (job_id, "tests.fails", REQUEST_ID)
    assert tags["job.attempts"] == "1"
    assert event["contexts"]["job"]["kwargs"] == {"note": "first"}


async def test_a_job_retried_until_it_gives_up_is_one_event_with_its_attempts_as_breadcrumbs(
    client: httpx.AsyncClient, events: Events
) -> None:
    job_id = await enqueue(client, "tests.fails_every_attempt")

    assert runs[job_id] == MAX_ATTEMPTS
    [event] = events()
    assert event["tags"]["job.attempts"] == str(MAX_ATTEMPTS)
    attempts = [crumb["message"] for crumb in event["breadcrumbs"]["values"] if crumb["category"] == "job.attempt"]
    assert attempts == [f"attempt {n} failed: JobFailedError" for n in range(1, MAX_ATTEMPTS)]


async def test_a_job_that_succeeds_after_a_retry_sends_no_event(client: httpx.AsyncClient, events: Events) -> None:
    job_id = await enqueue(client, "tests.fails_first_attempt")

    assert runs[job_id] == 2
    assert events() == []


async def test_jobs_failing_together_keep_their_own_tags_and_breadcrumbs(
    client: httpx.AsyncClient, events: Events
) -> None:
    first = (await fails.kiq(note="one")).task_id
    second = (await fails.kiq(note="two")).task_id
    await finish_jobs()

    by_job = {event["tags"]["job_id"]: event for event in events()}
    assert set(by_job) == {first, second}
    for event in by_job.values():
        assert "request_id" not in event["tags"]  # enqueued by no request
        crumbs = [crumb for crumb in event["breadcrumbs"]["values"] if crumb["message"] == "job about to fail"]
        assert len(crumbs) == 1


async def test_every_log_line_of_a_job_carries_the_job_the_trace_and_the_enqueuing_request(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    job_id = await enqueue(client, "tests.logs", order=7)

    logged = lines(log_stream)
    [access] = [line for line in logged if line.get("path") == "/api/v1/test-jobs/{name}"]
    job_lines = [line for line in logged if line.get("job_id") == job_id]
    assert {line["event"] for line in job_lines} >= {"job ran", f"Executing task tests.logs with ID: {job_id}"}
    for line in job_lines:
        assert (line["task_name"], line["request_id"]) == ("tests.logs", REQUEST_ID)
        assert line["trace_id"] == access["trace_id"]


@pytest.fixture
async def traced_client(make_settings: MakeSettings, sentry_transport: CapturingTransport) -> Any:
    settings = make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0)
    async for client in open_client(create_job_app(settings, sentry_transport=sentry_transport)):
        yield client


async def test_the_job_continues_the_trace_of_the_request_and_its_enqueue_is_a_span_of_it(
    traced_client: httpx.AsyncClient, sentry_transport: CapturingTransport, events: Events
) -> None:
    await enqueue(traced_client, "tests.fails", note="traced")
    [event] = events()

    by_name = {item["name"]: item for item in sentry_transport.traced()}
    request, job = by_name["/api/v1/test-jobs/{name}"], by_name["tests.fails"]
    [publish] = [span for span in request["spans"] if span["op"] == "queue.publish"]
    assert job["op"] == "queue.process"
    assert job["trace_id"] == request["trace_id"]
    assert job["parent_span_id"] == publish["span_id"]
    assert event["contexts"]["trace"]["trace_id"] == request["trace_id"]


async def test_a_job_of_an_unsampled_request_records_no_transaction(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, events: Events
) -> None:
    await enqueue(client, "tests.fails", note="unsampled")

    assert len(events()) == 1
    assert sentry_transport.traced() == []

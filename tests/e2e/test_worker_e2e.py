"""Background jobs with a real Redis and real worker and scheduler processes, started from a bake.

A job enqueued over HTTP runs in the worker and its failure is one event in bugsink; a worker SIGKILLed mid-job
leaves the job to a second worker, which completes it; a worker stopped with SIGTERM under a queue finishes its
running job, exits 0, and the jobs it had taken but not started go to the next worker: none is lost; a schedule's
check-ins (which bugsink discards) reach a recording Sentry in order. Every wait is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..support.baking import Baked
from ..support.redis import RedisServer, redis_server
from .bugsink import Bugsink
from .conftest import summary_lines
from .recorder import EventRecorder
from .service import BakedService, RunningService, ServiceClient, sqlite_url
from .test_service_e2e import EVENT_TIMEOUT_SECONDS, new_project
from .worker import WORKER_APP, done_log, prepare_worker_bake, start_scheduler, start_worker, wait_for

QUEUE = "jobs"
REDELIVERY_SECONDS = 2.0
JOB_TIMEOUT_SECONDS = 30.0


@pytest.fixture(scope="session")
def worker_service(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> BakedService:
    """The template baked with background jobs (staging: JSON logs, a real broker required), dependencies installed."""
    baked = bake(tmp_path_factory.mktemp("worker-bake"), environment="staging", include_worker="yes")
    return prepare_worker_bake(baked.project)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def settings(worker_service: BakedService, redis: RedisServer, tmp_path: Path) -> dict[str, str]:
    """What the service, its workers and its scheduler share: one database, one broker, one jobs folder."""
    values = {
        "DATABASE_URL": sqlite_url(tmp_path / "service.db"),
        "BROKER_URL": redis.url,
        "BROKER_QUEUE": QUEUE,
        "BROKER_REDELIVERY_SECONDS": str(REDELIVERY_SECONDS),
        "E2E_JOBS_DIR": str(tmp_path),
    }
    worker_service.migrate(values["DATABASE_URL"], BROKER_URL=redis.url)
    return values


def enqueue(service: RunningService, job: str, **arguments: object) -> str:
    """Enqueue over HTTP, on a connection of its own (the service closes idle kept-alive ones)."""
    with ServiceClient(service.url) as client:
        response = client.post(f"/e2e/jobs/{job}", json_body=arguments, headers={"X-Request-ID": f"e2e-{job}"})
    assert response.status_code == 200, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def lines_about(jobs_dir: Path, name: str) -> list[list[str]]:
    """The done.log lines of job `name`: [what, name, pid]."""
    return [line.split() for line in done_log(jobs_dir) if line.split()[1:2] == [name]]


def test_a_job_enqueued_over_http_fails_in_the_worker_as_one_event_in_bugsink(
    worker_service: BakedService, bugsink: Bugsink, settings: dict[str, str], tmp_path: Path
) -> None:
    dsn = new_project(bugsink, "job-failure")
    env = {**settings, "SENTRY_DSN": dsn}
    worker = start_worker(worker_service, tmp_path, "worker", **env)
    try:
        with worker_service.run(tmp_path / "service", app=WORKER_APP, **env) as service:
            job_id = enqueue(service, "fail", note="over http")
            [event] = bugsink.wait_for_events(dsn, 1, timeout=EVENT_TIMEOUT_SECONDS)
    finally:
        assert worker.terminate() == 0
    assert len(bugsink.events(dsn)) == 1  # after the worker's flush at exit: still one
    tags = event["tags"]
    assert (tags["job_id"], tags["task_name"], tags["request_id"]) == (job_id, "e2e.fail", "e2e-fail")
    assert event["transaction"] == "e2e.fail"


def test_a_job_whose_worker_is_killed_completes_on_a_second_worker(
    worker_service: BakedService, settings: dict[str, str], redis: RedisServer, tmp_path: Path
) -> None:
    first = start_worker(worker_service, tmp_path, "first", **settings)
    with worker_service.run(tmp_path / "service", app=WORKER_APP, **settings) as service:
        enqueue(service, "slow", name="long", seconds=3)
        wait_for(lambda: lines_about(tmp_path, "long"), JOB_TIMEOUT_SECONDS, "the job to start", first)
        first.kill()
        assert redis.pending(QUEUE, QUEUE) == 1  # taken, never acknowledged
        second = start_worker(worker_service, tmp_path, "second", **settings)
        try:
            time.sleep(REDELIVERY_SECONDS + 0.5)  # the job must lie idle this long before another worker takes it
            # taskiq-redis 1.2 reclaims abandoned jobs after a read that brought new ones: a queue that moves.
            enqueue(service, "slow", name="next", seconds=0)
            done = lambda: [line for line in lines_about(tmp_path, "long") if line[0] == "done"]  # noqa: E731
            wait_for(done, JOB_TIMEOUT_SECONDS, "the job to complete on the second worker", second)
        finally:
            assert second.terminate() == 0
    runs = lines_about(tmp_path, "long")
    started = [pid for what, _, pid in runs if what == "started"]
    completed = [pid for what, _, pid in runs if what == "done"]
    summary_lines.append(f"worker SIGKILL mid-job: started {len(started)} times, completed {len(completed)} time(s)")
    print(summary_lines[-1])
    assert len(started) == 2
    assert completed == [started[1]]
    assert redis.pending(QUEUE, QUEUE) == 0


def test_sigterm_under_a_queue_finishes_the_running_job_exits_0_and_loses_none(
    worker_service: BakedService, settings: dict[str, str], redis: RedisServer, tmp_path: Path
) -> None:
    names = [f"job{number:02d}" for number in range(12)]
    first = start_worker(worker_service, tmp_path, "first", **settings)
    with worker_service.run(tmp_path / "service", app=WORKER_APP, **settings) as service:
        for name in names:
            enqueue(service, "slow", name=name, seconds=0.4)
        finished = lambda: [line for line in done_log(tmp_path) if line.startswith("done")]  # noqa: E731
        wait_for(lambda: len(finished()) >= 3, JOB_TIMEOUT_SECONDS, "three jobs to finish", first)
        status = first.terminate()
        by_first = {line.split()[1] for line in finished()}
        second = start_worker(worker_service, tmp_path, "second", **settings)
        try:
            time.sleep(REDELIVERY_SECONDS + 0.5)
            enqueue(service, "slow", name="last", seconds=0)
            every = {*names, "last"}
            wait_for(lambda: {line.split()[1] for line in finished()} >= every, 60, "every job", second)
        finally:
            assert second.terminate() == 0
    started_by_first = {line.split()[1] for line in done_log(tmp_path) if line.startswith("started")} & by_first
    runs = [line.split()[1] for line in finished()]
    summary_lines.append(
        f"worker SIGTERM under {len(names)} jobs: exit {status}, {len(by_first)} done by the first worker, "
        f"{len(set(names) & set(runs) - by_first)} by the second, {len(runs) - len(set(runs))} run twice, "
        f"{len(set(names) - set(runs))} lost"
    )
    print(summary_lines[-1])
    assert status == 0
    assert started_by_first == by_first  # every job the first worker started, it finished
    assert set(names) <= set(runs)
    assert redis.pending(QUEUE, QUEUE) == 0


def test_a_schedule_checks_in_in_progress_then_ok_with_its_monitor_config(
    worker_service: BakedService, settings: dict[str, str], tmp_path: Path
) -> None:
    with EventRecorder() as recorder:
        env = {**settings, "SENTRY_DSN": recorder.dsn}
        worker = start_worker(worker_service, tmp_path, "worker", **env)
        scheduler = start_scheduler(worker_service, tmp_path, **env)
        try:
            check_ins = recorder.wait_for_items("check_in", 2, timeout=JOB_TIMEOUT_SECONDS)
        finally:
            assert scheduler.terminate() == 0
            assert worker.terminate() == 0
    started, finished = check_ins[:2]
    assert (started["status"], finished["status"]) == ("in_progress", "ok")
    assert started["monitor_slug"] == finished["monitor_slug"] == "e2e-every-minute"
    assert started["check_in_id"] == finished["check_in_id"]
    assert started["monitor_config"]["schedule"] == {"type": "crontab", "value": "* * * * *"}
    assert started["monitor_config"]["max_runtime"] == 1


def test_the_job_continues_the_trace_of_the_request_that_enqueued_it(
    worker_service: BakedService, settings: dict[str, str], tmp_path: Path
) -> None:
    with EventRecorder() as recorder:
        env = {**settings, "SENTRY_DSN": recorder.dsn, "SENTRY_TRACES_SAMPLE_RATE": "1.0"}
        worker = start_worker(worker_service, tmp_path, "worker", **env)
        try:
            with worker_service.run(tmp_path / "service", app=WORKER_APP, **env) as service:
                enqueue(service, "slow", name="traced", seconds=0)
                recorder.wait_for_items("transaction", 1, timeout=JOB_TIMEOUT_SECONDS)
        finally:
            assert worker.terminate() == 0
        transactions = recorder.wait_for_items("transaction", 2, timeout=JOB_TIMEOUT_SECONDS)
    by_op = {item["contexts"]["trace"]["op"]: item for item in transactions}
    request, job = by_op["http.server"], by_op["queue.process"]
    [publish] = [span for span in request["spans"] if span["op"] == "queue.publish"]
    assert job["contexts"]["trace"]["trace_id"] == request["contexts"]["trace"]["trace_id"]
    assert job["contexts"]["trace"]["parent_span_id"] == publish["span_id"]

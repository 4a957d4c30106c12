"""SIGTERM under load: two uvicorn workers drain, finish what is in flight, flush Sentry and exit 0 in time.

One run, played once for the module, as a load balancer sees a rolling deploy:

1. The service starts with two workers (`--workers 2`) and a bounded grace period, reporting to bugsink.
2. A few client threads send steady load; a balancer thread polls `/health/ready`.
3. A slow request starts; errors are raised; then the supervising process gets SIGTERM.
4. The balancer sees readiness turn 503 and the clients stop sending, as a balancer stops routing to a pod.
5. The service exits. Every request sent must have been answered in full, the slow one included, the events of
   the errors must be stored by bugsink, and the exit must come within the grace period.

Each test checks one behaviour of that record; the counts appear in pytest's terminal summary.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .bugsink import Bugsink
from .conftest import summary_lines
from .service import E2E_APP, BakedService, RunningService

WORKERS = 2
CLIENT_THREADS = 3
DRAIN_SECONDS = 2.0
GRACE_SECONDS = 10  # uvicorn takes whole seconds
SENTRY_FLUSH_SECONDS = 2.0
SLOW_REQUEST_SECONDS = DRAIN_SECONDS + 1.5
ERRORS_BEFORE_SIGTERM = 4
WARM_UP_RESPONSES = 300  # a few seconds of steady load before the signal
MAX_REQUESTS_PER_CLIENT = 2_000
LOAD_LIMIT_SECONDS = 60.0
POLL_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 20.0
EXIT_TIMEOUT_SECONDS = DRAIN_SECONDS + GRACE_SECONDS + SENTRY_FLUSH_SECONDS + 15.0
EVENTS_TIMEOUT_SECONDS = 20.0
# The supervising process looks at its signals twice a second; the workers then drain, finish and flush.
SHUTDOWN_BUDGET_SECONDS = 0.5 + DRAIN_SECONDS + GRACE_SECONDS + SENTRY_FLUSH_SECONDS + 2.0


@dataclass
class Outcome:
    """One request: whether a full response came back, and when it ended (monotonic seconds)."""

    path: str
    status: int | None
    ended: float
    error: str | None = None


@dataclass
class Tally:
    """What the clients sent and what came back, shared by the load threads."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    warmed_up: threading.Event = field(default_factory=threading.Event)
    stop_sending: threading.Event = field(default_factory=threading.Event)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if len(self.outcomes) >= WARM_UP_RESPONSES:
                self.warmed_up.set()


def fetch(connection: http.client.HTTPConnection, path: str) -> Outcome:
    """GET `path` once, never retried: a refused, reset or cut-off answer is an error, a full body is a status."""
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()  # raises IncompleteRead if the body is cut off
        if response.getheader("Content-Type", "").startswith("application/json"):
            json.loads(body)
        return Outcome(path, response.status, time.monotonic())
    except (OSError, http.client.HTTPException, ValueError) as error:
        connection.close()
        return Outcome(path, None, time.monotonic(), f"{type(error).__name__}: {error}")


def connect(service: RunningService) -> http.client.HTTPConnection:
    port = int(service.url.rsplit(":", 1)[1])
    return http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)


def client_loop(service: RunningService, tally: Tally, deadline: float) -> None:
    """Steady load on one kept-alive connection until the balancer stops routing here."""
    connection = connect(service)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if tally.stop_sending.is_set() or time.monotonic() > deadline:
            break
        tally.add(fetch(connection, "/api/v1/posts"))
    connection.close()


def balancer_loop(
    service: RunningService, readiness: list[Outcome], draining: list[Outcome], tally: Tally, deadline: float
) -> None:
    """Poll readiness as a load balancer does; on the first 503, stop sending the pod new requests.

    Polls after that go to `draining`, until the server closes the connection: they show how long it drained.
    """
    connection = connect(service)
    polls = readiness
    while time.monotonic() < deadline:
        outcome = fetch(connection, "/health/ready")
        polls.append(outcome)
        if outcome.error is not None and polls is draining:
            break
        if outcome.status == 503 and polls is readiness:
            tally.stop_sending.set()
            polls = draining
        time.sleep(POLL_SECONDS)  # the polling interval of a balancer, not a synchronisation
    connection.close()


def wait_for_log(service: RunningService, message: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """The service's JSON lines whose `event` is `message`, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        records = [record for record in json_lines(service) if record.get("event") == message]
        if len(records) >= count:
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} x {message!r} not logged within {timeout} s:\n{service.output_tail()}")
        time.sleep(POLL_SECONDS)


def json_lines(service: RunningService) -> list[dict[str, Any]]:
    """stdout's JSON lines (the workers'); a line still being written is skipped."""
    records = []
    for line in service.log_lines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def command_line(pid: int) -> str:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()


def tag(event: dict[str, Any], name: str) -> str | None:
    tags = event.get("tags") or {}
    pairs = tags.items() if isinstance(tags, dict) else tags
    return next((str(value) for key, value in pairs if key == name), None)


@dataclass
class ShutdownRun:
    service: RunningService
    worker_pids: list[int]
    worker_command_lines: list[str]
    signalled_at: float
    load: Tally
    readiness: list[Outcome]
    """Balancer polls up to and including the first 503."""
    draining: list[Outcome]
    """Balancer polls after the first 503, until the server closed the connection."""
    slow: Outcome
    error_event_ids: list[str]
    events: list[dict[str, Any]]

    @property
    def answered(self) -> list[Outcome]:
        return [outcome for outcome in [*self.load.outcomes, *self.readiness, self.slow] if outcome.error is None]

    @property
    def sent(self) -> int:
        return len(self.load.outcomes) + len(self.readiness) + 1


@pytest.fixture(scope="module")
def shutdown_run(
    baked_service: BakedService, sqlite_database: str, bugsink: Bugsink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ShutdownRun]:
    dsn = bugsink.create_project(f"graceful-shutdown-{uuid.uuid4().hex[:8]}")
    uvicorn_args = ["--workers", str(WORKERS), "--timeout-graceful-shutdown", str(GRACE_SECONDS)]
    with baked_service.run(
        tmp_path_factory.mktemp("graceful-shutdown"),
        app=E2E_APP,
        uvicorn_args=uvicorn_args,
        DATABASE_URL=sqlite_database,
        SENTRY_DSN=dsn,
        SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
    ) as service:
        started = wait_for_log(service, "service started", WORKERS, timeout=60)
        # multiprocessing's resource tracker is a child too: the workers are the children that run the server.
        children = {pid: command_line(pid) for pid in children_of(service.process.pid)}
        worker_pids = [pid for pid, line in children.items() if "resource_tracker" not in line]
        command_lines = [children[pid] for pid in worker_pids]
        assert len(started) == WORKERS

        tally, readiness, draining = Tally(), [], []
        deadline = time.monotonic() + LOAD_LIMIT_SECONDS
        threads = [
            threading.Thread(target=client_loop, args=(service, tally, deadline), name=f"client-{n}")
            for n in range(CLIENT_THREADS)
        ]
        threads.append(threading.Thread(target=balancer_loop, args=(service, readiness, draining, tally, deadline)))
        for thread in threads:
            thread.start()
        assert tally.warmed_up.wait(LOAD_LIMIT_SECONDS), "the load never got going"

        slow: list[Outcome] = []
        slow_thread = threading.Thread(
            target=lambda: slow.append(fetch(connect(service), f"/e2e/slow?seconds={SLOW_REQUEST_SECONDS}"))
        )
        slow_thread.start()
        wait_for_log(service, "e2e: slow request started", 1, timeout=30)

        error_ids = []
        errors = connect(service)
        for _ in range(ERRORS_BEFORE_SIGTERM):
            errors.request("GET", "/e2e/worker-failure")
            error_ids.append(json.loads(errors.getresponse().read())["event_id"])
        errors.close()

        signalled_at = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        service.process.wait(EXIT_TIMEOUT_SECONDS)
        service.exit_seconds = time.monotonic() - signalled_at
        for thread in [*threads, slow_thread]:
            thread.join(REQUEST_TIMEOUT_SECONDS)

        events = bugsink.wait_for_events(dsn, ERRORS_BEFORE_SIGTERM, timeout=EVENTS_TIMEOUT_SECONDS)
        run = ShutdownRun(
            service, worker_pids, command_lines, signalled_at, tally, readiness, draining, slow[0], error_ids, events
        )
        failed = [outcome for outcome in [*tally.outcomes, *readiness, *slow] if outcome.error is not None]
        summary_lines.append(
            f"graceful shutdown, {WORKERS} workers: sent {run.sent} requests ({len(tally.outcomes)} load,"
            f" {len(readiness)} readiness, 1 slow), answered {len(run.answered)} in full, {len(failed)} failed;"
            f" readiness 503 after {first_503(run) - signalled_at:.2f} s, for {drained_seconds(run):.2f} s;"
            f" slow request answered"
            f" {run.slow.ended - signalled_at:.2f} s after SIGTERM; {len(error_ids)} errors raised,"
            f" {len(stored_ids(run))} of them stored by bugsink; exit {service.returncode} after"
            f" {service.exit_seconds:.2f} s (budget {SHUTDOWN_BUDGET_SECONDS:.1f} s)"
        )
        yield run


def first_503(run: ShutdownRun) -> float:
    return next((outcome.ended for outcome in run.readiness if outcome.status == 503), float("nan"))


def drained_seconds(run: ShutdownRun) -> float:
    """From the first 503 to the last 503 the balancer saw: how long the pod drained while still serving."""
    answered = [outcome.ended for outcome in run.draining if outcome.status == 503]
    return (answered[-1] if answered else first_503(run)) - first_503(run)


def stored_ids(run: ShutdownRun) -> set[str]:
    return {event["event_id"] for event in run.events} & set(run.error_event_ids)


def test_every_request_sent_is_answered_in_full(shutdown_run: ShutdownRun) -> None:
    failed = [outcome for outcome in shutdown_run.load.outcomes if outcome.error is not None]

    assert not failed, failed[:5]
    assert len(shutdown_run.answered) == shutdown_run.sent
    assert {outcome.status for outcome in shutdown_run.load.outcomes} == {200}


def test_the_request_in_flight_is_finished_after_the_server_stops_accepting(shutdown_run: ShutdownRun) -> None:
    messages = [record.get("event") for record in json_lines(shutdown_run.service)]

    assert shutdown_run.slow.status == 200, shutdown_run.slow
    assert shutdown_run.slow.ended - shutdown_run.signalled_at > DRAIN_SECONDS
    assert "Waiting for connections to close. (CTRL+C to force quit)" in messages


def test_readiness_answers_503_once_sigterm_arrives(shutdown_run: ShutdownRun) -> None:
    before = [outcome.status for outcome in shutdown_run.readiness if outcome.ended < shutdown_run.signalled_at]

    assert before, "readiness was polled before the signal"
    assert set(before) == {200}
    assert shutdown_run.readiness[-1].status == 503
    assert first_503(shutdown_run) - shutdown_run.signalled_at < DRAIN_SECONDS


def test_readiness_keeps_answering_503_while_the_pod_drains(shutdown_run: ShutdownRun) -> None:
    statuses = {outcome.status for outcome in shutdown_run.draining if outcome.error is None}

    assert statuses == {503}
    assert drained_seconds(shutdown_run) > DRAIN_SECONDS / 2


def test_events_of_errors_raised_just_before_sigterm_arrive(shutdown_run: ShutdownRun) -> None:
    assert stored_ids(shutdown_run) == set(shutdown_run.error_event_ids)


def test_every_event_comes_from_a_worker_with_its_own_client(shutdown_run: ShutdownRun) -> None:
    pids = {tag(event, "worker_pid") for event in shutdown_run.events}

    assert pids <= {str(pid) for pid in shutdown_run.worker_pids}


def test_workers_are_fresh_interpreters_that_inherit_no_sentry_client(shutdown_run: ShutdownRun) -> None:
    # uvicorn starts workers with multiprocessing's "spawn": a new interpreter, not a fork of the supervisor, and
    # the supervisor never imports the app; each worker builds it, and so starts its own Sentry client.
    assert len(shutdown_run.worker_pids) == WORKERS
    for line in shutdown_run.worker_command_lines:
        assert "from multiprocessing.spawn import spawn_main" in line, line


def test_each_worker_closes_its_pool_and_flushes_sentry(shutdown_run: ShutdownRun) -> None:
    messages = [record.get("event") for record in json_lines(shutdown_run.service)]

    assert messages.count("service started") == WORKERS
    assert messages.count("service stopped") == WORKERS


def test_shutdown_exits_0_within_the_grace_period(shutdown_run: ShutdownRun) -> None:
    service = shutdown_run.service

    assert service.returncode == 0, service.output_tail()
    assert service.exit_seconds is not None
    assert service.exit_seconds < SHUTDOWN_BUDGET_SECONDS


def test_nothing_is_cancelled_by_the_grace_period(shutdown_run: ShutdownRun) -> None:
    assert "timeout graceful shutdown exceeded" not in shutdown_run.service.stdout()
    assert "timeout graceful shutdown exceeded" not in shutdown_run.service.stderr()

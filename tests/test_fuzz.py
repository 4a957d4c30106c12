"""The baked service keeps the promises of its OpenAPI schema, under requests generated from that schema.

schemathesis (its CLI, as a user would run it) reads /openapi.json from a real uvicorn on 127.0.0.1, generates
valid and invalid requests for every operation, and runs every check it has on every answer: not a server error,
documented status codes, content types, headers and bodies, schema-valid requests accepted and invalid ones
refused, a 405 with the right Allow header, resources that exist after creation and are gone after deletion.
The run is bounded in examples per operation and seeded, so a failure reproduces. The service runs as a staging
deployment on SQLite and on PostgreSQL, against a healthy stand-in for its upstream API on 127.0.0.1, and
reports to a stand-in Sentry on 127.0.0.1: fuzzing must not make it send a single event. /sentry-debug fails on
purpose and is left out.

Fuzzing cannot tell a wrongly documented error from a right one (FastAPI's default 422 model has no required
field, so our envelope matches it), hence the two checks of the schema itself. See docs/fuzzing.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.recorder import EventRecorder
from tests.e2e.service import BakedService, RunningService, ServiceClient, sqlite_url
from tests.support.baking import Baked
from tests.support.loopback import JsonHandler, LoopbackServer
from tests.support.postgres import postgres_server

pytestmark = pytest.mark.slow

# Every check schemathesis has; none is left out.
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"
MAX_EXAMPLES = 50
SEED = 20251125
REQUEST_TIMEOUT_SECONDS = 10
RUN_TIMEOUT_SECONDS = 300
# /sentry-debug answers 500 and reports to Sentry on purpose: every check would rightly fail it.
EXCLUDED_PATHS = ("/sentry-debug",)
ERROR_ENVELOPE = "#/components/schemas/ErrorResponse"
# How long the event of the one request to /sentry-debug after fuzzing may take to reach the stand-in Sentry.
EVENT_TIMEOUT_SECONDS = 30
# A staging deployment with the debug routes off (staging mounts /sentry-debug all the same); Sentry is on,
# with a stand-in's DSN, and traces off: only events are sent.
SERVICE_SETTINGS = {
    "ENVIRONMENT": "staging",
    "LOG_FORMAT": "json",
    "SENTRY_DSN": "",
    "SENTRY_TRACES_SAMPLE_RATE": "0",
    "ENABLE_DEBUG_ROUTES": "false",
}


class _UpstreamHandler(JsonHandler):
    def do_GET(self) -> None:
        resource_id = self.path.removeprefix("/resources/")
        status, payload = (404, {"error": "not found"}) if len(resource_id) % 2 else (200, {"id": resource_id})
        self.answer(status, json.dumps(payload).encode())


class StandInUpstream(LoopbackServer):
    """The upstream API of /api/v1/external on 127.0.0.1: a JSON object per resource, 404 for ids of odd length.

    Healthy on purpose: an unreachable upstream is a documented 503, which `not_a_server_error` reports all the same.
    """

    Handler = _UpstreamHandler


@pytest.fixture(scope="module")
def upstream() -> Iterator[StandInUpstream]:
    with StandInUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def service(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> BakedService:
    """The template baked with default answers, with its dependencies installed (a cached virtualenv)."""
    return BakedService.prepare(bake(tmp_path_factory.mktemp("fuzz-bake")).project)


@pytest.fixture(scope="module")
def openapi(service: BakedService) -> dict[str, Any]:
    """The service's OpenAPI schema, as `create_app()` builds it with the fuzzed settings."""
    script = "import json; from app.main import create_app; print(json.dumps(create_app().openapi()))"
    result = subprocess.run(
        [str(service.python), "-c", script],
        cwd=service.project,
        env=service.environment(**SERVICE_SETTINGS),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    schema: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return schema


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for one fuzz run."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("fuzz-sqlite") / "fuzz.db")
        return
    with postgres_server() as server:
        yield server.url


@dataclass(frozen=True)
class FuzzRun:
    """One schemathesis run against the served service, and what reached Sentry meanwhile."""

    service: RunningService
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    events: list[dict[str, Any]]
    """Every event the service sent while fuzzed, then the one of the /sentry-debug request that closed the run."""
    closing_event_id: str

    @property
    def printed(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def fuzzed(
    service: BakedService,
    database_url: str,
    upstream: StandInUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FuzzRun]:
    """The service migrated with `alembic upgrade head`, served by uvicorn and fuzzed, on one database.

    After fuzzing, one request to /sentry-debug: its event is sent after any event fuzzing caused (one queue,
    one sending thread), so once it arrived, everything fuzzing made the service send has arrived too.
    """
    workdir = tmp_path_factory.mktemp("fuzz")
    service.migrate(database_url)
    with EventRecorder() as sentry:
        settings = {
            **SERVICE_SETTINGS,
            "SENTRY_DSN": sentry.dsn,
            "DATABASE_URL": database_url,
            "EXTERNAL_API_BASE_URL": upstream.url,
        }
        with service.run(workdir / "service", **settings) as running:
            result, report = schemathesis_run(running.url, workdir)
            with ServiceClient(running.url) as client:
                closing = client.get("/sentry-debug")
            assert closing.status_code == 500, closing.text
            closing_event_id = closing.json()["event_id"]
            events = sentry.wait_for_event(closing_event_id, EVENT_TIMEOUT_SECONDS)
            yield FuzzRun(running, result, report, events, closing_event_id)


def schemathesis_run(url: str, workdir: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`st run` against the service's schema, bounded and seeded: its printed report and its JSON report."""
    json_report = workdir / "schemathesis.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", CHECKS,
        "--phases", PHASES,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--request-timeout", str(REQUEST_TIMEOUT_SECONDS),
        "--workers", "1",
        "--generation-database", "none",
        "--continue-on-failure",
        "--report", "json", "--report-json-path", str(json_report),
        "--no-color",
        *(option for path in EXCLUDED_PATHS for option in ("--exclude-path", path)),
    ]  # fmt: skip
    # cwd: our own folder, so no schemathesis.toml from elsewhere changes the run, and .hypothesis lands there.
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )
    report = json.loads(json_report.read_text(encoding="utf-8")) if json_report.exists() else {}
    return result, report


def logged_errors(service: RunningService) -> list[str]:
    """The service's error lines, one short line each: the event, and the root exception's type and message."""
    lines = []
    for line in service.log_lines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") == "error":
            exception = (record.get("exception") or [{}])[-1]
            message = str(exception.get("exc_value", "")).splitlines()[:1]
            lines.append(f"{record.get('event')}: {exception.get('exc_type', '')} {' '.join(message)}")
    return lines


def test_fuzzed_requests_get_documented_answers_and_no_server_error(fuzzed: FuzzRun) -> None:
    printed, report, returncode = fuzzed.printed, fuzzed.report, fuzzed.result.returncode
    errors = "\n".join(logged_errors(fuzzed.service)[:20])
    if returncode != 0 or not report:
        pytest.fail(f"schemathesis exited {returncode}:\n{printed}\nservice errors:\n{errors}", pytrace=False)
    operations = report["operations"]
    assert operations["selected"] > 0, printed
    assert operations["tested"] == operations["selected"], printed
    assert operations["errored"] == 0, printed
    assert report["failures"] == [], printed


def test_fuzzing_sends_no_event_to_sentry(fuzzed: FuzzRun) -> None:
    """No request fuzzing sends may be a server error, so none may be reported: only the closing one is."""
    assert [event["event_id"] for event in fuzzed.events][-1:] == [fuzzed.closing_event_id]
    sent = [_event_summary(event) for event in fuzzed.events[:-1]]
    assert sent == [], f"fuzzing made the service send {len(sent)} events to Sentry"


def test_every_documented_error_is_the_error_envelope(openapi: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in openapi["components"]["schemas"], "FastAPI's default 422 model is documented"
    wrong = [
        f"{method.upper()} {path} {status}"
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45" and _json_schema_ref(response) != ERROR_ENVELOPE
    ]
    assert wrong == [], f"documented with another model than ErrorResponse: {wrong}"


def test_errors_any_operation_can_answer_are_documented(openapi: dict[str, Any]) -> None:
    """413 (body limit) and 500 for all; 422 with parameters or a body; 400 (unreadable body) with a body."""
    missing = {}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            expected = {"413", "500"}
            if operation.get("parameters") or "requestBody" in operation:
                expected.add("422")
            if "requestBody" in operation:
                expected.add("400")
            if undocumented := expected - operation["responses"].keys():
                missing[f"{method.upper()} {path}"] = sorted(undocumented)
    assert missing == {}, f"statuses the service can answer but the schema does not document: {missing}"


def _json_schema_ref(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return str(ref) if ref is not None else None


def _event_summary(event: dict[str, Any]) -> str:
    """`transaction: ExceptionType: message`, one line per event."""
    values = (event.get("exception") or {}).get("values") or [{}]
    last = values[-1]
    return f"{event.get('transaction')}: {last.get('type')}: {str(last.get('value', ''))[:200]}"

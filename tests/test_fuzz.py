"""The baked service keeps the promises of its OpenAPI schema, under requests generated from that schema.

schemathesis (its CLI, as a user would run it) reads /openapi.json from a real uvicorn on 127.0.0.1, generates
valid and invalid requests for every operation, and checks every answer: not a server error, a documented status
code, a documented content type, a body matching the documented schema. The run is bounded in examples per
operation and seeded, so a failure reproduces. The service runs as a staging deployment with Sentry off, on
SQLite and on PostgreSQL, against a healthy stand-in for its upstream API on 127.0.0.1. /sentry-debug fails on
purpose and is left out.

Fuzzing cannot tell a wrongly documented error from a right one (FastAPI's default 422 model has no required
field, so our envelope matches it), hence the two checks of the schema itself. See docs/fuzzing.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service import BakedService, RunningService, sqlite_url
from tests.support.baking import Baked
from tests.support.postgres import postgres_server

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PHASES = "examples,coverage,fuzzing,stateful"
MAX_EXAMPLES = 50
SEED = 20251125
REQUEST_TIMEOUT_SECONDS = 10
RUN_TIMEOUT_SECONDS = 300
EXCLUDED_PATHS = ("/sentry-debug",)
ERROR_ENVELOPE = "#/components/schemas/ErrorResponse"
# A staging deployment with Sentry and the debug routes off (staging mounts /sentry-debug all the same).
SERVICE_SETTINGS = {"ENVIRONMENT": "staging", "LOG_FORMAT": "json", "SENTRY_DSN": "", "ENABLE_DEBUG_ROUTES": "false"}


class StandInUpstream(ThreadingHTTPServer):
    """The upstream API of /api/v1/external on 127.0.0.1: a JSON object per resource, 404 for ids of odd length.

    Healthy on purpose: an unreachable upstream is a documented 503, which `not_a_server_error` reports all the same.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _UpstreamHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        resource_id = self.path.removeprefix("/resources/")
        status, payload = (404, {"error": "not found"}) if len(resource_id) % 2 else (200, {"id": resource_id})
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is no place for an access log."""


@pytest.fixture(scope="module")
def upstream() -> Iterator[StandInUpstream]:
    with StandInUpstream() as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        thread.join(timeout=5)


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


@pytest.fixture
def served(
    service: BakedService, database_url: str, upstream: StandInUpstream, tmp_path: Path
) -> Iterator[RunningService]:
    """The service migrated with `alembic upgrade head` and served by uvicorn."""
    service.migrate(database_url)
    settings = {**SERVICE_SETTINGS, "DATABASE_URL": database_url, "EXTERNAL_API_BASE_URL": upstream.url}
    with service.run(tmp_path / "service", **settings) as running:
        yield running


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


def test_fuzzed_requests_get_documented_answers_and_no_server_error(served: RunningService, tmp_path: Path) -> None:
    result, report = schemathesis_run(served.url, tmp_path)
    printed = result.stdout + result.stderr
    errors = "\n".join(logged_errors(served)[:20])
    if result.returncode != 0 or not report:
        pytest.fail(f"schemathesis exited {result.returncode}:\n{printed}\nservice errors:\n{errors}", pytrace=False)
    operations = report["operations"]
    assert operations["selected"] > 0, printed
    assert operations["tested"] == operations["selected"], printed
    assert operations["errored"] == 0, printed
    assert report["failures"] == [], printed


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

"""A baked service, installed the documented way, passes its own suite, lints, type-checks and serves.

Tiers: the generated suite on SQLite (each environment, hostile names, hostile exported variables) and on a real
PostgreSQL server (in parallel workers); ruff and mypy --strict over a matrix of answers; alembic up/down/up/check
on both databases; and a smoke run of the freshly baked service under a real uvicorn process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sentry_relay.processing import StoreNormalizer, convert_datascrubbing_config, pii_strip_event

from tests.support.baking import Baked
from tests.support.harness import free_port
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.slow

HOSTILE_NAME = 'Ünïcode "Quoted" O\'Brien \\ {{ not_jinja }} """ 🚀'
SUITE_TIMEOUT = 600
# Service variables a CI runner or a container may export: valid values that change what a test would see, and
# (every other field of Settings, see the test) invalid ones. Settings ignore case; the SDK reads SENTRY_* itself.
HOSTILE_SERVICE_VARIABLES = {
    "ENVIRONMENT": "production",
    "environment": "prod",
    "DATABASE_URL": "postgresql+asyncpg://app:exported-password@127.0.0.1:9/app",
    "SENTRY_DSN": "https://exportedkey@o1.ingest.sentry.invalid/1",
    "LOG_LEVEL": "CRITICAL",
    "LOG_FORMAT": "console",
    "SENTRY_ENVIRONMENT": "exported",
    "SENTRY_RELEASE": "exported@0",
}


def run(
    args: list[str | Path],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = SUITE_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a command in a baked project; its whole output is kept for the assertion message."""
    environment = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "TEST_DATABASE_URL"}}
    environment.update(env or {})
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(result.args)} exited {result.returncode}:\n{output[-6000:]}"
    return output


def pytest_summary(output: str) -> dict[str, int]:
    """The counts of pytest's closing line, e.g. {'passed': 120, 'skipped': 1}."""
    last = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)][-1]
    return {kind: int(count) for count, kind in re.findall(r"(\d+) (\w+)", last)}


@pytest.fixture(scope="session")
def default_project(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default")).project


@pytest.fixture(scope="session")
def venv_python(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the default bake, installed exactly as its README says: pip install -e ".[dev]"."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    assert_ok(run([sys.executable, "-m", "venv", venv], cwd=default_project))
    python = venv / "bin" / "python"
    assert_ok(run([python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=default_project, timeout=900))
    return python


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def test_default_bake_passes_make_lint_typecheck_test_with_no_edits(default_project: Path, venv_python: Path) -> None:
    """The baked project's own documented gates, on SQLite: ruff, mypy --strict, its pytest, migrations check."""
    make = ["make", "lint", "typecheck", "test", "check-migrations", f"PYTHON={venv_python}"]
    output = assert_ok(run(make, cwd=default_project))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0


def test_lean_bake_passes_make_lint_typecheck_test_with_no_edits(
    bake: Callable[..., Baked], tmp_path: Path, venv_python: Path
) -> None:
    """include_examples=no: no posts or external-call example, an empty migration history, the same gates green."""
    project = bake(tmp_path, include_examples="no").project
    examples = [
        "app/models/post.py",
        "app/schemas/post.py",
        "app/services/post_service.py",
        "app/api/routes/posts.py",
        "app/clients/external_api.py",
        "app/api/routes/external.py",
        "tests/features/test_posts.py",
        "tests/features/test_post_schema.py",
        "tests/features/test_post_service.py",
        "tests/features/test_external.py",
        "tests/features/test_external_deadline.py",
    ]
    assert [name for name in examples if (project / name).exists()] == []
    assert list((project / "migrations/versions").glob("*.py")) == []
    assert "EXTERNAL_API" not in (project / "app/core/config.py").read_text(encoding="utf-8")
    assert '"/sentry-debug"' in (project / "app/api/routes/debug.py").read_text(encoding="utf-8")

    make = ["make", "lint", "typecheck", "test", "check-migrations", f"PYTHON={venv_python}"]
    output = assert_ok(run(make, cwd=project))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0
    assert "No new upgrade operations detected." in output
    assert (project / "tests/platform/http/test_debug_routes.py").is_file()
    # The author's first test has a place to go, beside nothing of the examples'.
    assert [path.name for path in (project / "tests/features").iterdir()] == ["__init__.py"]


@pytest.fixture(scope="session")
def worker_venv_python(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding a bake with background jobs (taskiq, taskiq-redis), installed as its README says."""
    project = bake(tmp_path_factory.mktemp("worker"), include_worker="yes").project
    venv = tmp_path_factory.mktemp("worker-venv") / "venv"
    assert_ok(run([sys.executable, "-m", "venv", venv], cwd=project))
    python = venv / "bin" / "python"
    assert_ok(run([python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=project, timeout=900))
    return python


def test_default_bake_has_no_worker(default_project: Path) -> None:
    """include_worker defaults to no: no broker, no taskiq, no Redis, no worker deployment."""
    assert not (default_project / "app/worker").exists()
    assert not (default_project / "app/core/_sentry/jobs.py").exists()
    assert not (default_project / "app/core/_sentry/job_traces.py").exists()
    assert not (default_project / "app/core/_sentry/crons.py").exists()
    assert "taskiq" not in (default_project / "pyproject.toml").read_text(encoding="utf-8")
    assert "BROKER_URL" not in (default_project / "app/core/config.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("include_examples", "python_version", "targets"),
    [
        ("yes", "3.11", ["lint", "typecheck", "test", "check-migrations"]),
        ("no", "3.11", ["lint", "typecheck", "test", "check-migrations"]),
        ("no", "3.12", ["lint", "typecheck"]),  # this machine runs Python 3.11: a 3.12 bake's code runs on 3.12 only
    ],
    ids=["examples-py311", "lean-py311", "lean-py312"],
)
def test_worker_bake_passes_make_lint_typecheck_test_with_no_edits(
    bake: Callable[..., Baked],
    tmp_path: Path,
    worker_venv_python: Path,
    include_examples: str,
    python_version: str,
    targets: list[str],
) -> None:
    """include_worker=yes with and without the worked examples: the machinery and its tests always, the example
    jobs only with the examples; the same gates green."""
    answers = {"include_worker": "yes", "include_examples": include_examples, "python_version": python_version}
    project = bake(tmp_path, **answers).project
    tasks = (project / "app/worker/tasks.py").read_text(encoding="utf-8")
    assert ("check_post_upstream" in tasks) == (include_examples == "yes")
    assert (project / "tests/features/test_post_jobs.py").exists() == (include_examples == "yes")
    assert (project / "tests/platform/jobs/test_jobs.py").is_file()

    output = assert_ok(run(["make", *targets, f"PYTHON={worker_venv_python}"], cwd=project))
    if "test" in targets:
        summary = pytest_summary(output)
        assert summary.get("passed", 0) > 50
        assert summary.get("failed", 0) == 0
    else:
        assert "Success: no issues found" in output


def test_worker_bake_suite_passes_with_spans_streamed(
    bake: Callable[..., Baked], tmp_path: Path, worker_venv_python: Path
) -> None:
    """Jobs are traced in either lifecycle: the worker bake's suite with SENTRY_TRACE_LIFECYCLE=stream."""
    project = bake(tmp_path, include_worker="yes").project
    suite = [worker_venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    output = assert_ok(run(suite, cwd=project, env={"TEST_SENTRY_TRACE_LIFECYCLE": "stream"}))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0


def test_default_bake_suite_passes_on_postgresql_in_parallel_workers(
    default_project: Path, venv_python: Path, postgres: PostgresServer
) -> None:
    output = assert_ok(
        run(
            [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
            cwd=default_project,
            env={"TEST_DATABASE_URL": postgres.url},
        )
    )
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("skipped", 0) == 0, "every test runs against PostgreSQL"


def test_default_bake_suite_passes_with_spans_streamed(default_project: Path, venv_python: Path) -> None:
    """SENTRY_TRACE_LIFECYCLE=stream holds the promises of the default lifecycle (which ``make test`` runs above):
    the same suite, its traced requests read as streamed segments, on SQLite in parallel workers."""
    suite = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    output = assert_ok(run(suite, cwd=default_project, env={"TEST_SENTRY_TRACE_LIFECYCLE": "stream"}))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0
    assert "span streaming sends none" in output, "the transaction-only tests say why they are skipped"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_suite_passes_when_baked_for_each_environment(
    bake: Callable[..., Baked], tmp_path: Path, venv_python: Path, environment: str
) -> None:
    answers = {"environment": environment}
    if environment == "production":
        answers["sentry_dsn_production"] = "https://abc123@o1.ingest.sentry.io/42"
    project = bake(tmp_path, **answers).project
    suite = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-n", "2"]
    output = assert_ok(run(suite, cwd=project))
    assert pytest_summary(output).get("passed", 0) > 50


def test_suite_passes_with_hostile_service_variables_exported(default_project: Path, venv_python: Path) -> None:
    fields = "from app.core.config import Settings; print(*Settings.model_fields)"
    names = assert_ok(run([venv_python, "-c", fields], cwd=default_project)).split()
    assert {"ENVIRONMENT", "DATABASE_URL", "SENTRY_DSN", "LOG_LEVEL"} <= set(names)
    exported = dict.fromkeys(names, "not-a-valid-value") | HOSTILE_SERVICE_VARIABLES

    suite = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    output = assert_ok(run(suite, cwd=default_project, env=exported))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0


def test_hostile_project_name_bakes_a_working_service(
    bake: Callable[..., Baked], tmp_path: Path, venv_python: Path
) -> None:
    project = bake(tmp_path, project_name=HOSTILE_NAME, project_slug="hostile-name", typed=True).project
    probe = "from app.core.config import PROJECT_NAME; import json; print(json.dumps(PROJECT_NAME))"
    printed = assert_ok(run([venv_python, "-c", probe], cwd=project))
    assert json.loads(printed.strip().splitlines()[-1]) == HOSTILE_NAME
    # Serially, in one process: every other whole baked suite here runs on pytest-xdist's workers.
    assert_ok(run([venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"], cwd=project))


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"python_version": "3.12", "environment": "staging"},
        {"python_version": "3.13", "environment": "production", "project_name": HOSTILE_NAME, "project_slug": "odd"},
    ],
    ids=["default", "py312-staging", "py313-production-hostile"],
)
def test_baked_code_is_ruff_clean_and_mypy_strict(
    bake: Callable[..., Baked], tmp_path: Path, venv_python: Path, answers: dict[str, str]
) -> None:
    project = bake(tmp_path, typed=True, **answers).project
    bin_dir = venv_python.parent
    assert_ok(run([bin_dir / "ruff", "check", "."], cwd=project))
    assert_ok(run([bin_dir / "ruff", "format", "--check", "."], cwd=project))
    assert_ok(run([bin_dir / "mypy"], cwd=project))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_migrations_go_up_down_up_with_no_drift(
    default_project: Path, venv_python: Path, tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if database == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url.rsplit("/", 1)[0] + "/migrations_check"
        _create_database(venv_python, server.url, "migrations_check", default_project)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    alembic = [venv_python, "-m", "alembic"]
    env = {"DATABASE_URL": url, "ENVIRONMENT": "staging"}
    for step in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"], ["check"]):
        assert_ok(run([*alembic, *step], cwd=default_project, env=env))


def _create_database(python: Path, server_url: str, name: str, cwd: Path) -> None:
    script = (
        "import asyncio, sys, asyncpg\n"
        "async def main(dsn, name):\n"
        "    conn = await asyncpg.connect(dsn)\n"
        "    await conn.execute(f'DROP DATABASE IF EXISTS {name}')\n"
        "    await conn.execute(f'CREATE DATABASE {name}')\n"
        "    await conn.close()\n"
        "asyncio.run(main(sys.argv[1], sys.argv[2]))\n"
    )
    assert_ok(run([python, "-c", script, server_url.replace("postgresql+asyncpg", "postgresql"), name], cwd=cwd))


def _request(method: str, url: str, body: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def served_default_bake(bake: Callable[..., Baked], tmp_path: Path, venv_python: Path) -> Iterator[tuple[str, Path]]:
    """A fresh default bake, migrated with `alembic upgrade head`, served by a real uvicorn process."""
    project = bake(tmp_path).project
    assert_ok(run([venv_python, "-m", "alembic", "upgrade", "head"], cwd=project))
    port = free_port()
    log = tmp_path / "uvicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [venv_python, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _request("GET", f"{base}/health/live")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, f"uvicorn exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"uvicorn did not answer within 30 s:\n{log.read_text()}"
            time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_fresh_bake_serves_posts_and_readiness_after_install_and_migrate(served_default_bake: tuple[str, Path]) -> None:
    base, log = served_default_bake
    status, created = _request("POST", f"{base}/api/v1/posts", {"title": "Hello", "body": "First post"})
    assert status == 201, created
    status, conflict = _request("POST", f"{base}/api/v1/posts", {"title": "Hello", "body": "Again"})
    assert status == 409
    assert conflict["error"] == "CONFLICT_ERROR"
    assert {"message", "details", "request_id"} <= conflict.keys()
    status, ready = _request("GET", f"{base}/health/ready")
    assert status == 200, ready
    assert "Traceback" not in log.read_text()


def test_sentrys_own_scrubber_finds_nothing_left_in_the_corpus_events(
    default_project: Path, venv_python: Path, tmp_path: Path
) -> None:
    """Relay, with Sentry's default server-side rules, over every event the generated suite's secret corpus sent."""
    dump = tmp_path / "corpus-events.json"
    files = ["tests/platform/redaction/test_corpus.py", "tests/platform/redaction/test_shapes_corpus.py"]
    corpus = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
    assert_ok(run(corpus, cwd=default_project, env={"REDACTION_CORPUS_DUMP": str(dump)}))
    for written in (dump, tmp_path / "corpus-events-shapes.json"):
        events = json.loads(written.read_text(encoding="utf-8"))
        assert {event.get("type", "event") for event in events} == {"event", "transaction"}, written.name
        assert_relay_finds_nothing(events)


def assert_relay_finds_nothing(events: list[dict[str, Any]]) -> None:
    config = convert_datascrubbing_config(
        {"scrubData": True, "scrubDefaults": True, "scrubIpAddresses": True, "sensitiveFields": [], "excludeFields": []}
    )
    for event in events:
        event.pop("_meta", None)  # the SDK's own notes on what it removed: not Relay's
        assert pii_strip_event(config, event).get("_meta") is None, json.dumps(pii_strip_event(config, event)["_meta"])
        assert not StoreNormalizer().normalize_event(event).get("errors")

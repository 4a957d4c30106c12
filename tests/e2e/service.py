"""The baked service as a real process: `uvicorn` on 127.0.0.1, its own virtualenv, its own log files.

`BakedService.prepare(project)` takes a project baked by cookiecutter, writes `e2e_app.py` into it (the
service's own app plus a few routes only this tier needs), and makes sure a cached virtualenv holds the
project's dependencies. `migrate(url)` runs `alembic upgrade head`; `run(workdir, **env)` starts uvicorn and
yields a `RunningService` once `/health/live` answers, and stops it with SIGTERM on exit.

The virtualenv holds the project's dependencies only, never the project: the bake folder changes with every
run, so the service is imported from its folder (cwd and PYTHONPATH), as `uvicorn app.main:app` is run there.

`ServiceClient` talks to it (standard library only, keep-alive); `FailingUpstream` stands in for an upstream
API that answers every call with a 500.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import signal
import subprocess
import time
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

from ..support.harness import HarnessError, build_venv, cache_dir, cache_lock, free_port
from ..support.loopback import JsonHandler, LoopbackServer

SERVICE_TEMPLATE = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"
SERVICE_APP = "app.main:app"
E2E_APP = "e2e_app:app"
READY_TIMEOUT_SECONDS = 30.0
PORT_ATTEMPTS = 3
STOP_TIMEOUT_SECONDS = 15.0
INSTALL_TIMEOUT_SECONDS = 900
MIGRATE_TIMEOUT_SECONDS = 120

# What every run gets unless a test overrides it: the settings of a staging deployment with debug routes on.
BASE_SETTINGS = {
    "ENVIRONMENT": "staging",
    "LOG_FORMAT": "json",
    "ENABLE_DEBUG_ROUTES": "true",
    "SENTRY_TRACES_SAMPLE_RATE": "0",
}
# Taken from the test process; everything else (SENTRY_*, DATABASE_URL, VIRTUAL_ENV...) is left behind.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")

_IMPORT_CHECK = "import fastapi, sentry_sdk, sqlalchemy, structlog, uvicorn, alembic, asyncpg, aiosqlite"

# Sets Linux's parent-death signal, then becomes the service: if the test process dies without its teardown,
# the service gets SIGTERM instead of living on.
_LAUNCHER = """
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() == int(os.environ.pop("E2E_PARENT_PID")):
    os.execv(sys.argv[1], sys.argv[1:])
"""

E2E_APP_SOURCE = '''\
"""The baked service plus the routes that only the end-to-end tier needs. Written by tests/e2e/service.py."""

import asyncio
import json
import logging
import os
from typing import Any

import httpx
import sentry_sdk
import structlog
from fastapi import BackgroundTasks, Request, WebSocket
from fastapi.responses import StreamingResponse
from sqlalchemy import text

from app.core.sentry import set_request_user
from app.main import create_app

app = create_app()
log = structlog.get_logger("e2e")


@app.get("/e2e/users/{user_id}/failure")
async def fail_for_signed_in_user(user_id: str, request: Request) -> None:
    """A signed-in user's request that fails unexpectedly."""
    set_request_user(user_id, settings=request.app.state.settings)
    raise RuntimeError("e2e: unexpected failure for a signed-in user")


@app.post("/e2e/failure-holding-secrets")
async def fail_holding_secrets(request: Request) -> None:
    """Fails with credentials in its frame locals, as code that handles them would."""
    body: dict[str, Any] = await request.json()
    api_token = body["oauth"]["refresh_token"]  # noqa: F841  (a local for the scrubber to find)
    raise RuntimeError("e2e: unexpected failure while holding a token")


@app.get("/e2e/slow")
async def slow(seconds: float) -> dict[str, float]:
    """Answers after `seconds`: a request still in flight when the server is told to stop."""
    log.info("e2e: slow request started", seconds=seconds, pid=os.getpid())
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@app.get("/e2e/worker-failure")
async def fail_in_worker() -> None:
    """Fails unexpectedly; the event names the worker process that sent it."""
    sentry_sdk.set_tag("worker_pid", str(os.getpid()))
    raise RuntimeError("e2e: unexpected failure in a worker")


@app.post("/e2e/background-failure", status_code=202)
async def fail_in_background(tasks: BackgroundTasks) -> dict[str, str]:
    """Answers 202, then its background task fails."""

    def build_report() -> None:
        log.info("e2e: building the report")
        raise RuntimeError("e2e: background task failed")

    tasks.add_task(build_report)
    return {"status": "accepted"}


@app.get("/e2e/stream-failure")
async def fail_mid_stream() -> StreamingResponse:
    """Starts a 200 stream, then fails before its end."""

    async def rows() -> Any:
        yield b"first row\\n"
        raise RuntimeError("e2e: stream failed mid-way")

    return StreamingResponse(rows(), media_type="text/plain")


@app.websocket("/e2e/ws/failure")
async def fail_in_websocket(websocket: WebSocket) -> None:
    """Accepts, echoes nothing, and fails on the first message."""
    await websocket.accept()
    text_in = await websocket.receive_text()
    log.info("e2e: websocket message", length=len(text_in))
    raise RuntimeError("e2e: websocket failed after accept")


@app.post("/e2e/corpus/{token}")
async def plant_secrets(token: str, request: Request) -> None:
    """Puts each secret of the X-Corpus-Secrets header where service code would: logs, tags, extra, locals, calls."""
    m: dict[str, str] = json.loads(request.headers["x-corpus-secrets"])
    log = structlog.get_logger("e2e.corpus")
    structlog.contextvars.bind_contextvars(session_token=m["contextvar"])
    log.info("charging", password=m["log_password"], api_key=m["log_api_key"], card=m["log_card"])
    logging.getLogger("e2e.corpus").warning("upstream auth header was Bearer %s", m["stdlib_bearer"])
    log.info("calling upstream", url=f"https://user:{m['log_userinfo']}@svc.internal/x")
    sentry_sdk.set_tag("customer_token", m["tag"])
    upstream = {"endpoint": f"http://svc:{m['extra_userinfo']}@host/", "db": f"postgresql://app:{m['extra_db']}@db/app"}
    sentry_sdk.set_extra("upstream", upstream)
    sentry_sdk.set_context("billing", {"note": f"Bearer {m['context_bearer']}"})
    db_url = f"postgresql+asyncpg://app:{m['local_db_url']}@db:5432/app"  # noqa: F841  (a local for the event)
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
        await client.get(f"https://user:{m['outbound_userinfo']}@api.example.com/v1?api_key={m['outbound_api_key']}")
    log.info(f"calling the partner with {m['vendor_stripe']}")
    log.info("calling the partner", note=m["vendor_github"])
    insert = text("INSERT INTO posts (title, body) VALUES (:title, '')")
    try:
        async with request.app.state.sessionmaker() as session, session.begin():
            for _ in range(2):  # a unique violation: PostgreSQL's DETAIL quotes the duplicate key
                await session.execute(insert, {"title": m["unique_key"]})
    except Exception as unique:
        log.warning("duplicate post", exc_info=unique)
        try:
            raise ValueError(f"invalid input for query argument $1: {m['asyncpg']!r} (expected int)") from unique
        except ValueError as exc:
            card, aws = m["exception_card"], m["vendor_aws"]
            raise RuntimeError(f"login failed for token {m['exception_token']} (card {card}, key {aws})") from exc
'''


class ServiceError(RuntimeError):
    """The service could not be installed, migrated, started or stopped."""


def venv_dir(dependencies: list[str]) -> Path:
    """The virtualenv for the template's current dependencies: keyed by a hash of its pyproject.toml and of the
    bake's dependencies (a bake with the worker needs taskiq too), so that bakes of both kinds keep a venv each."""
    digest = hashlib.sha256((SERVICE_TEMPLATE / "pyproject.toml").read_bytes() + repr(dependencies).encode())
    return cache_dir() / f"service-venv-{digest.hexdigest()[:16]}"


def project_dependencies(project: Path) -> list[str]:
    """The `[project] dependencies` of a baked project: what its code needs at run time, nothing else."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return [str(requirement) for requirement in pyproject["project"]["dependencies"]]


def _run(command: list[str], *, what: str, timeout: float, **kwargs: Any) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, **kwargs)
    if result.returncode != 0:
        raise ServiceError(f"{what} failed: {' '.join(command)}\n{result.stdout[-3000:]}{result.stderr[-4000:]}")
    return str(result.stdout)


def _installed(venv: Path, dependencies: list[str]) -> bool:
    marker = venv / "e2e-dependencies.json"
    python = venv / "bin" / "python"
    if not (marker.exists() and python.exists()) or json.loads(marker.read_text()) != dependencies:
        return False
    check = subprocess.run([str(python), "-c", _IMPORT_CHECK], capture_output=True, timeout=60, check=False)
    return check.returncode == 0


def ensure_venv(project: Path) -> Path:
    """Return a virtualenv holding the baked project's dependencies, installing them first if needed.

    The project itself is not installed: its folder changes with every bake.
    """
    dependencies = project_dependencies(project)
    venv = venv_dir(dependencies)
    if _installed(venv, dependencies):
        return venv
    with cache_lock(venv.name):
        if _installed(venv, dependencies):  # another process installed it while we waited
            return venv
        try:
            build_venv(venv, dependencies, what="installing the service's dependencies")
        except HarnessError as error:
            raise ServiceError(str(error)) from error
        _run([str(venv / "bin" / "python"), "-c", _IMPORT_CHECK], what="importing the stack", timeout=120)
        (venv / "e2e-dependencies.json").write_text(json.dumps(dependencies))
    return venv


def sqlite_url(path: Path) -> str:
    """The service's DATABASE_URL for an SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


@dataclass(frozen=True)
class BakedService:
    """A baked project and the virtualenv that runs it. Create it with `prepare`."""

    project: Path
    venv: Path
    setup_seconds: float

    @classmethod
    def prepare(cls, project: Path) -> BakedService:
        """Write `e2e_app.py` into the project and make sure its dependencies are installed."""
        began = time.monotonic()
        (project / "e2e_app.py").write_text(E2E_APP_SOURCE, encoding="utf-8")
        venv = ensure_venv(project)
        return cls(project=project, venv=venv, setup_seconds=time.monotonic() - began)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def environment(self, **settings: str) -> dict[str, str]:
        """The process environment: inherited basics, the staging settings, then `settings`."""
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env |= {"PYTHONPATH": str(self.project), "PYTHONUNBUFFERED": "1", **BASE_SETTINGS, **settings}
        return env

    def launch(
        self, module: Sequence[str], settings: dict[str, str], stdout: IO[bytes], stderr: IO[bytes] | int
    ) -> subprocess.Popen[bytes]:
        """``python -m <module...>`` from the project folder with these settings, in a session of its own, and
        killed with this process (the launcher's PR_SET_PDEATHSIG)."""
        python = str(self.python)
        return subprocess.Popen(
            [python, "-c", _LAUNCHER, python, "-m", *module],
            cwd=self.project,
            env={**self.environment(**settings), "E2E_PARENT_PID": str(os.getpid())},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )

    def migrate(self, database_url: str, **settings: str) -> None:
        """`alembic upgrade head` against `database_url`, as a user runs it from the project folder."""
        _run(
            [str(self.python), "-m", "alembic", "upgrade", "head"],
            what="alembic upgrade head",
            cwd=self.project,
            env=self.environment(DATABASE_URL=database_url, **settings),
            timeout=MIGRATE_TIMEOUT_SECONDS,
        )

    @contextlib.contextmanager
    def run(
        self, workdir: Path, *, app: str = SERVICE_APP, uvicorn_args: Sequence[str] = (), **settings: str
    ) -> Iterator[RunningService]:
        """Start `uvicorn <app> <uvicorn_args>` on a free 127.0.0.1 port with `settings` in its environment.

        Yields once `/health/live` answers; stdout and stderr go to files in `workdir`. On exit the service is
        stopped (SIGTERM) unless the test already stopped it.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        service = self._start_live(workdir, app, settings, uvicorn_args)
        try:
            yield service
        finally:
            service.stop()

    def _start_live(
        self, workdir: Path, app: str, settings: dict[str, str], uvicorn_args: Sequence[str]
    ) -> RunningService:
        # The port is free when chosen but not held: another process may take it first. Then try another.
        for attempt in range(1, PORT_ATTEMPTS + 1):
            service = self._start(workdir, app, settings, free_port(), uvicorn_args)
            try:
                service.wait_until_live(READY_TIMEOUT_SECONDS)
            except ServiceError:
                if attempt == PORT_ATTEMPTS or "address already in use" not in service.output_tail().lower():
                    raise
            else:
                return service
        raise AssertionError("unreachable")

    def _start(
        self, workdir: Path, app: str, settings: dict[str, str], port: int, uvicorn_args: Sequence[str]
    ) -> RunningService:
        module = ["uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *uvicorn_args]
        stdout_path, stderr_path = workdir / "stdout.log", workdir / "stderr.log"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = self.launch(module, settings, stdout, stderr)
        return RunningService(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)


class RunningService:
    """A uvicorn process serving the baked project, and what it wrote."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stdout_path: Path, stderr_path: Path) -> None:
        self.process = process
        self.url = url
        """`http://127.0.0.1:<port>`"""
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.start_seconds = 0.0
        """Time from starting the process to the first answer of `/health/live`."""
        self.exit_seconds: float | None = None
        """Time from SIGTERM to the process's exit, once `stop` ran; None if it had to be killed."""

    def wait_until_live(self, timeout: float) -> None:
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"the service exited with {self.process.returncode}:\n{self.output_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException), ServiceClient(self.url, 2) as client:
                if client.get("/health/live").status_code == HTTPStatus.OK:
                    self.start_seconds = time.monotonic() - began
                    return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"the service did not answer at {self.url} within {timeout} s:\n{self.output_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> float | None:
        """SIGTERM, then wait up to `timeout` s; SIGKILL to its process group after that. Returns exit_seconds."""
        if self.process.poll() is not None:
            return self.exit_seconds
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
            self.exit_seconds = time.monotonic() - began
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # the group is ours: the service leads its own session
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        return self.exit_seconds

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[str]:
        """Every line the service wrote to stdout."""
        return self.stdout().splitlines()

    def log_records(self) -> list[dict[str, Any]]:
        """stdout parsed as JSON lines; fails on the first line that is not a JSON object."""
        records = []
        for number, line in enumerate(self.log_lines(), 1):
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"line {number} is JSON but not an object: {line}")
            records.append(record)
        return records

    def output_tail(self, lines: int = 40) -> str:
        """The end of stdout and stderr, for failure messages."""
        out = "\n".join(self.log_lines()[-lines:])
        err = "\n".join(self.stderr().splitlines()[-lines:])
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"


@dataclass(frozen=True)
class Response:
    """One answer of the service, and how long the client waited for all of it."""

    status_code: int
    headers: Message
    """Case-insensitive: `headers["X-Request-ID"]`."""
    content: bytes
    elapsed: float
    """Seconds from sending the request to reading the last byte of the answer."""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class ServiceClient:
    """HTTP/1.1 to the service over one kept-alive connection, standard library only."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Response:
        target = f"{path}?{urllib.parse.urlencode(params)}" if params else path
        all_headers = dict(headers or {})
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        began = time.perf_counter()
        try:
            self._connection.request(method, target, body=body, headers=all_headers)
            answer = self._connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if method != "GET":
                raise
            # The server closed the kept-alive connection between requests: a GET may be sent again.
            self._connection.close()
            self._connection.request(method, target, body=body, headers=all_headers)
            answer = self._connection.getresponse()
        content = answer.read()
        return Response(answer.status, answer.headers, content, time.perf_counter() - began)

    def get(self, path: str, **options: Any) -> Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Response:
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Any) -> Response:
        return self.request("DELETE", path, **options)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Answer500(JsonHandler):
    def do_GET(self) -> None:
        self.server.calls += 1  # type: ignore[attr-defined]
        self.answer(500, b'{"error": "upstream is broken"}')


class FailingUpstream(LoopbackServer):
    """An HTTP server on 127.0.0.1 that answers every GET with a 500, standing in for a broken upstream API."""

    Handler = _Answer500

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0  # how many requests it answered so far

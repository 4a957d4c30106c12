"""The baked worker and scheduler as real processes (``taskiq worker``, ``taskiq scheduler``), beside the service.

`prepare_worker_bake(project)` writes into a project baked with ``include_worker=yes`` the jobs only this tier
needs (`e2e_jobs.py`) and a service app that enqueues them over HTTP (`e2e_worker_app.py`). `start_worker` and
`start_scheduler` run the project's own commands (those of its Makefile) with the baked service's virtualenv;
each job of `e2e.slow` writes a line to `done.log` in `E2E_JOBS_DIR` when it starts and when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .service import BakedService

WORKER_APP = "e2e_worker_app:app"
STOP_TIMEOUT_SECONDS = 30.0
# Seconds a worker gives its running jobs after SIGTERM (the Makefile's GRACEFUL_SHUTDOWN_SECONDS).
GRACE_SECONDS = "20"

E2E_JOBS_SOURCE = '''\
"""Jobs only the end-to-end tier needs. Written by tests/e2e/worker.py."""

import asyncio
import os
from pathlib import Path

from app.worker.broker import broker
from app.worker.schedules import cron

LOG = Path(os.environ["E2E_JOBS_DIR"]) / "done.log"


def note(line: str) -> None:
    with LOG.open("a", encoding="utf-8") as log:
        log.write(line + "\\n")


@broker.task(task_name="e2e.fail")
async def fail(note: str) -> None:
    raise RuntimeError(f"the e2e job failed: {note}")


@broker.task(task_name="e2e.slow")
async def slow(name: str, seconds: float) -> None:
    note(f"started {name} {os.getpid()}")
    await asyncio.sleep(seconds)
    note(f"done {name} {os.getpid()}")


@broker.task(task_name="e2e.tick", schedule=[cron("* * * * *", slug="e2e-every-minute", max_runtime=1)])
async def tick() -> None:
    note("tick")
'''

E2E_WORKER_APP_SOURCE = '''\
"""The baked service plus a route that enqueues the e2e jobs. Written by tests/e2e/worker.py."""

from typing import Any

import e2e_jobs
from app.main import create_app

app = create_app()


@app.post("/e2e/jobs/{name}")
async def enqueue(name: str, arguments: dict[str, Any]) -> dict[str, str]:
    task = {"fail": e2e_jobs.fail, "slow": e2e_jobs.slow}[name]
    return {"job_id": (await task.kiq(**arguments)).task_id}
'''


def prepare_worker_bake(project: Path) -> BakedService:
    """Write the e2e jobs and app into the project; install its dependencies (taskiq included)."""
    (project / "e2e_jobs.py").write_text(E2E_JOBS_SOURCE, encoding="utf-8")
    (project / "e2e_worker_app.py").write_text(E2E_WORKER_APP_SOURCE, encoding="utf-8")
    return BakedService.prepare(project)


@dataclass
class TaskiqProcess:
    """A ``taskiq worker`` or ``taskiq scheduler`` process group and the files it wrote."""

    process: subprocess.Popen[bytes]
    output: Path

    def kill(self) -> None:
        """SIGKILL the whole group (the supervisor and its worker child), as the OOM killer would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_SECONDS)

    def terminate(self) -> int:
        """SIGTERM, as Kubernetes stops a pod; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def _start(service: BakedService, workdir: Path, name: str, arguments: list[str], env: dict[str, str]) -> TaskiqProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"{name}.log"
    with output.open("ab") as sink:
        process = service.launch(["taskiq", *arguments], env, sink, subprocess.STDOUT)
    return TaskiqProcess(process, output)


def start_worker(service: BakedService, workdir: Path, name: str, **env: str) -> TaskiqProcess:
    """``make worker``'s command, one job at a time, waiting until it says it listens."""
    arguments = [
        "worker", "app.worker.broker:broker", "app.worker.tasks", "e2e_jobs", "--workers", "1",
        "--no-configure-logging", "--wait-tasks-timeout", GRACE_SECONDS, "--max-async-tasks", "1",
    ]  # fmt: skip
    worker = _start(service, workdir, name, arguments, env)
    wait_for(lambda: "Listening started." in worker.text(), 30, f"{name} to listen", worker)
    return worker


def start_scheduler(service: BakedService, workdir: Path, **env: str) -> TaskiqProcess:
    """``make scheduler``'s command."""
    arguments = ["scheduler", "app.worker.scheduler:scheduler", "app.worker.tasks", "e2e_jobs"]
    return _start(service, workdir, "scheduler", [*arguments, "--no-configure-logging"], env)


def wait_for(condition: object, timeout: float, what: str, process: TaskiqProcess | None = None) -> None:
    """Poll `condition()` every 50 ms until it holds; AssertionError (with the process's output) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tail = process.text()[-3000:] if process else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")
        time.sleep(0.05)


def done_log(jobs_dir: Path) -> list[str]:
    path = jobs_dir / "done.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

"""The processes a benchmark run starts: the Sentry sink and the uvicorn servers, each on 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.harness import LOOPBACK, free_port

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SERVER_CORE = 0
LOAD_CORE = 1


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > core else []


def http_call(port: int, method: str, path: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_up(port: int, process: subprocess.Popen[bytes], path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            status, _ = http_call(port, "GET", path, timeout=1.0)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer {path} within {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class Sink:
    """The stand-in Sentry, pinned to the load generator's core."""

    python: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"http://key@{LOOPBACK}:{self.port}/1"

    def __enter__(self) -> Sink:
        command = [*pin(LOAD_CORE), self.python, "-m", "bench.sink", str(self.port)]
        self.process = subprocess.Popen(command, cwd=REPO_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.stats()
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop(self.process)

    def stats(self) -> dict[str, Any]:
        _, body = http_call(self.port, "GET", "/stats", timeout=5.0)
        return dict(json.loads(body))


@dataclass
class Server:
    """One uvicorn process logging to a file: one worker pinned to the server core, or ``workers`` unpinned."""

    python: str
    app: str
    app_dir: Path
    env: dict[str, str]
    log_file: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    workers: int = 1

    def __enter__(self) -> Server:
        command = [
            *(pin(SERVER_CORE) if self.workers == 1 else []),
            self.python,
            "-m",
            "uvicorn",
            self.app,
            "--app-dir",
            str(self.app_dir),
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.log_file.parent, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until_up(self.port, self.process, "/health/live")
        except Exception:
            stop(self.process)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop(self.process)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

"""A throwaway Redis server for tests: its own folder, a free port on 127.0.0.1, nothing kept on disk.

    with redis_server() as server:
        run_worker(BROKER_URL=server.url)
        server.count("jobs")  # how many entries a stream holds

Debian's ``redis-server`` package is installed with apt-get when the binary is missing and we run as root (without
letting the package start its own server on port 6379). The server is stopped when the block ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .harness import free_port
from .postgres import _no_service_starts

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


class RedisError(RuntimeError):
    """The server could not be installed, started or stopped."""


def ensure_installed() -> Path:
    """The ``redis-server`` binary, installing Debian's package first if it is missing."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RedisError("redis-server not found: install Debian's redis-server package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True, timeout=600)
    with _no_service_starts():
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
    found = shutil.which("redis-server")
    if not found:
        raise RedisError("apt-get installed redis-server but the binary is still missing")
    return Path(found)


class RedisServer:
    """One redis-server process on 127.0.0.1 in a temporary folder."""

    def __init__(self) -> None:
        self.binary = ensure_installed()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.log_file = self.root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            str(self.binary), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root),
            "--save", "", "--appendonly", "no", "--logfile", str(self.log_file), "--protected-mode", "yes",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self.command("PING")[:1] != ["+PONG"]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RedisError(f"redis-server did not start on port {self.port}: {self.log_tail()}")
            time.sleep(0.05)

    def command(self, *args: str) -> list[str]:
        """Send one command (RESP); return the lines of the answer, empty when the server does not answer."""
        request = f"*{len(args)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in args)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                connection.sendall(request.encode())
                return connection.recv(65536).decode(errors="replace").split("\r\n")
        except OSError:
            return []

    def count(self, stream: str) -> int:
        """How many entries the stream ``stream`` holds (acknowledged or not)."""
        answer = self.command("XLEN", stream)
        return int(answer[0].removeprefix(":")) if answer and answer[0].startswith(":") else 0

    def pending(self, stream: str, group: str) -> int:
        """How many entries of ``stream`` workers of ``group`` took and have not acknowledged."""
        answer = self.command("XPENDING", stream, group)  # *4, :<count>, ...
        return int(answer[1].removeprefix(":")) if len(answer) > 1 and answer[1].startswith(":") else 0

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_SECONDS)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started server, stopped and removed when the block ends."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()

"""A throwaway PostgreSQL server for tests: its own data folder, a free port on 127.0.0.1, trust auth.

    with postgres_server() as server:
        run_tests(TEST_DATABASE_URL=server.url)
        server.stop()   # the database goes away: the service should answer 503
        server.start()  # same port, same data: the service should recover without a restart

The Debian package ``postgresql`` is installed with apt-get when no server binaries are found and we run as
root. ``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user. Durability is
switched off (``fsync=off``): this server holds test data only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from .harness import free_port

DEBIAN_BIN_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 60

_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


class PostgresError(RuntimeError):
    """The server could not be installed, initialised, started or stopped."""


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: $PG_BIN, else the newest Debian install, else $PATH."""
    if configured := os.environ.get("PG_BIN"):
        return Path(configured)
    versions = [path for path in DEBIAN_BIN_ROOT.glob("*/bin") if (path / "initdb").exists()]
    if versions:
        return max(versions, key=lambda path: _version_key(path.parent.name))
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_installed() -> Path:
    """Return the server's bin folder, installing Debian's `postgresql` package first if it is missing."""
    bin_dir = find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresError("PostgreSQL server binaries not found: install `postgresql` or set PG_BIN")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], env=env)
    with _no_service_starts():
        _run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], env=env)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresError("apt-get installed `postgresql` but initdb is still missing")
    return bin_dir


@contextmanager
def _no_service_starts() -> Iterator[None]:
    """Keep the package from starting its own cluster on port 5432: our servers are started by the tests alone.

    Debian's policy-rc.d mechanism: while it exits 101, package scripts may not start services.
    """
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


class PostgresServer:
    """One PostgreSQL server in a temporary folder. `start()` and `stop()` may be called repeatedly."""

    def __init__(self, port: int | None = None) -> None:
        self.bin_dir = ensure_installed()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "server.log"
        self._initialised = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database, e.g. postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres."""
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        if not self._initialised:
            return False
        result = self._pg_ctl("status", check=False)
        return result.returncode == 0

    def start(self) -> None:
        """Initialise on first use, then start and wait until the server accepts connections."""
        if not self._initialised:
            self._initdb()
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.log_file))

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the server (`fast` ends open connections; `immediate` is a crash) and wait until it is down."""
        if self.running:
            self._pg_ctl("stop", "-w", "-m", mode)

    def cleanup(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def _initdb(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
            shutil.chown(self.socket_dir, SERVER_USER, SERVER_USER)
        self._as_server_user(
            self.bin_dir / "initdb",
            "-D", str(self.data_dir), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        settings = {**_SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self.socket_dir}'"}
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._initialised = True

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._as_server_user(self.bin_dir / "pg_ctl", "-D", str(self.data_dir), *args, check=check)

    def _as_server_user(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        user: dict[str, Any] = {"user": SERVER_USER, "group": SERVER_USER} if os.geteuid() == 0 else {}
        result = _run([str(arg) for arg in args], check=False, cwd=self.root, **user)
        if check and result.returncode != 0:
            raise PostgresError(
                f"{Path(args[0]).name} {args[1] if len(args) > 1 else ''} failed:\n"
                f"{result.stdout}{result.stderr}{self._log_tail()}"
            )
        return result

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def postgres_server(port: int | None = None) -> Iterator[PostgresServer]:
    """A started server, stopped and deleted on exit."""
    with PostgresServer(port) as server:
        yield server


def _run(args: list[str], *, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        raise PostgresError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))

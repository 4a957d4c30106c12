"""What every tier's helpers share: the cache folder, a lock across processes, uv, cached virtualenvs, free ports.

The e2e tier (bugsink and the baked service), the fuzz tier, the PostgreSQL support and the benchmark all build
virtualenvs under one cache folder and find uv the same way, so a fresh machine behaves like a warm one:

- uv is the one on PATH, else the one ``make install`` put beside this Python (``.venv/bin/uv``), else
  ``python -m uv``; without any of them, venv and pip do the work.
- A virtualenv is always named explicitly (``--python <venv>/bin/python``): an install never lands in the
  environment that runs the tests, whatever ``VIRTUAL_ENV`` or a ``.venv`` in the working folder says.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

CACHE_VARIABLE = "TEMPLATE_CACHE_DIR"
LOOPBACK = "127.0.0.1"
VENV_TIMEOUT_SECONDS = 300
INSTALL_TIMEOUT_SECONDS = 900
# Variables that would point uv or pip at another environment than the one named on the command line.
_FOREIGN_ENVIRONMENT = ("VIRTUAL_ENV", "UV_SYSTEM_PYTHON", "UV_PYTHON", "PIP_PREFIX", "PIP_TARGET", "PYTHONHOME")


class HarnessError(RuntimeError):
    """A tool could not be found, installed or run."""


def cache_dir() -> Path:
    """Where tools and bakes are kept between runs: $TEMPLATE_CACHE_DIR or ~/.cache/fastapi-sentry-template."""
    configured = os.environ.get(CACHE_VARIABLE)
    path = Path(configured) if configured else Path.home() / ".cache" / "fastapi-sentry-template"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Serialise work on one cache entry across processes (pytest-xdist workers, two terminals)."""
    with (cache_dir() / f"{name}.lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def uv_command(path: str | None = None, python: str = sys.executable) -> list[str] | None:
    """How to run uv: on ``path`` (default $PATH), else beside ``python``, else ``python -m uv``; None without uv."""
    found = shutil.which("uv", path=path)
    if found:
        return [found]
    beside = Path(python).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False, timeout=60)
    return [python, "-m", "uv"] if probe.returncode == 0 else None


def clean_environment() -> dict[str, str]:
    """This process's environment without the variables that redirect an install to another environment."""
    return {name: value for name, value in os.environ.items() if name not in _FOREIGN_ENVIRONMENT}


def run(command: Sequence[str], *, what: str, timeout: float, **kwargs: object) -> str:
    """Run a command; its stdout, or a HarnessError that shows the command and the end of its output."""
    result = subprocess.run(  # type: ignore[call-overload]
        list(command), capture_output=True, text=True, check=False, timeout=timeout, **kwargs
    )
    if result.returncode != 0:
        raise HarnessError(f"{what} failed: {' '.join(command)}\n{result.stdout[-3000:]}{result.stderr[-4000:]}")
    return str(result.stdout)


def build_venv(venv: Path, requirements: Sequence[str], *, what: str) -> Path:
    """Create ``venv`` afresh and install ``requirements`` (pip-style, ``-r FILE`` allowed) into it; its python."""
    shutil.rmtree(venv, ignore_errors=True)
    python = venv / "bin" / "python"
    env = clean_environment()
    uv = uv_command()
    if uv:
        create = [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)]
        run(create, what="uv venv", timeout=VENV_TIMEOUT_SECONDS, env=env)
        install = [*uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), *requirements]
    else:
        run([sys.executable, "-m", "venv", str(venv)], what="python -m venv", timeout=VENV_TIMEOUT_SECONDS, env=env)
        install = [str(python), "-m", "pip", "install", "--quiet", *requirements]
    run(install, what=what, timeout=INSTALL_TIMEOUT_SECONDS, env=env)
    return python


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])

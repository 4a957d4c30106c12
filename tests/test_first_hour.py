"""A fresh bake, after exactly the next steps its hook prints, passes `make check` and serves.

The steps are taken from the hook's own output and run as written, one after another in one shell (so `cd` and
the virtualenv's activation carry over), from the folder the bake ran in. The last step starts the development
server; it runs as printed, with uvicorn's own `UVICORN_PORT` variable pointing it at a free port, until it
answers `/health/live`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest

from tests.support.baking import BAKE_VARIABLES, Baked
from tests.support.harness import LOOPBACK, clean_environment, free_port

pytestmark = pytest.mark.slow

Bake = Callable[..., Baked]

SETUP_TIMEOUT_SECONDS = 1500
STOP_TIMEOUT_SECONDS = 20


def printed_steps(stdout: str) -> list[str]:
    """The commands under "Next steps:", as printed, comments kept (the shell ignores them)."""
    steps = stdout.partition("\nNext steps:\n")[2]
    return [line.strip() for line in steps.splitlines() if line.strip() and not line.strip().startswith("#")]


def answers_live(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        connection.request("GET", "/health/live")
        return connection.getresponse().status == http.HTTPStatus.OK
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def test_next_steps_lead_a_fresh_bake_to_a_passing_make_check_and_a_serving_service(bake: Bake, tmp_path: Path) -> None:
    # The interpreter running the tests is the one the steps' `pythonX.Y -m venv` finds on every CI job.
    baked = bake(tmp_path / "bake", python_version=f"{sys.version_info.major}.{sys.version_info.minor}")
    steps = printed_steps(baked.stdout)
    assert steps[-1].startswith("uvicorn "), steps
    assert "make check" in " ".join(steps), steps
    env = {name: value for name, value in clean_environment().items() if name not in BAKE_VARIABLES}
    for name in ("TEST_DATABASE_URL", "DATABASE_URL", "ENVIRONMENT", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    port = free_port()
    env |= {"PWD": str(baked.workdir), "UVICORN_PORT": str(port), "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    # Everything before the server must succeed (`set -e`); the server is the shell's last command.
    script = "set -euo pipefail\n" + "\n".join([*steps[:-1], f"echo NEXT-STEPS-SERVING >&2; exec {steps[-1]}"])
    log = (tmp_path / "steps.log").open("w+", encoding="utf-8")
    with subprocess.Popen(
        ["bash", "-c", script], cwd=baked.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    ) as process:
        try:
            deadline = time.monotonic() + SETUP_TIMEOUT_SECONDS
            while not answers_live(port):
                assert process.poll() is None, f"a next step failed (exit {process.returncode}):\n{tail(log)}"
                assert time.monotonic() < deadline, f"the steps did not end serving:\n{tail(log)}"
                time.sleep(0.5)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT_SECONDS)
    assert "NEXT-STEPS-SERVING" in tail(log)


def tail(log: TextIO) -> str:
    """The end of what the steps printed."""
    log.seek(0)
    return log.read()[-8000:]

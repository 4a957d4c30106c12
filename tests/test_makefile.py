"""The template's own Makefile: what `make demo` and the tiers do before they spend a minute installing."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.support.baking import TEMPLATE_DIR


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=TEMPLATE_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_on_a_taken_port_stops_before_installing_and_names_another(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = make("demo", f"PORT={port}", f"VENV={venv}", f"DEMO_DIR={tmp_path / 'demo'}")

    assert result.returncode != 0
    assert f"127.0.0.1:{port} is in use" in result.stderr
    assert "make demo PORT=" in result.stderr
    assert not venv.exists(), "nothing may be installed before the port is known to be free"
    assert not (tmp_path / "demo").exists()


def test_tiers_run_with_the_venv_first_on_path(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = make("-p", "-n", "help", f"VENV={venv}", env={"PATH": "/usr/bin:/bin"})

    path_lines = [line for line in result.stdout.splitlines() if line.startswith("PATH :=")]
    assert path_lines, result.stdout[-2000:]
    assert path_lines[-1].split(":=", 1)[1].strip().startswith(f"{venv}/bin:")

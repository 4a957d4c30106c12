"""The tiers' shared tooling works on a machine as fresh as a new user's: no uv on PATH, nothing cached.

`make install` puts uv into the template's venv only; every tier must find it there, and every install must land
in the virtualenv it names, never in the environment that runs the tests.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import harness

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE = "harness_probe"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def probe_wheel(folder: Path) -> Path:
    """A pure-Python wheel built by hand, so that installing it needs no index."""
    dist_info = f"{PROBE}-0.1.dist-info"
    files = {
        f"{PROBE}/__init__.py": b"MARK = 'installed'\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 0.1\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist_info}/RECORD,,"]
    wheel = folder / f"{PROBE}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def test_uv_is_found_beside_the_running_python_when_path_has_none() -> None:
    command = harness.uv_command(path=SYSTEM_PATH)
    assert command is not None, "no uv on PATH, beside this Python or as `python -m uv`: `make install` installs it"
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("uv ")


def test_uv_lookup_prefers_path_then_the_venv(tmp_path: Path) -> None:
    fake = tmp_path / "uv"
    fake.write_text("#!/bin/sh\necho uv 0.0.0\n")
    fake.chmod(0o755)
    assert harness.uv_command(path=str(tmp_path)) == [str(fake)]
    beside = harness.uv_command(path=str(tmp_path / "empty"))
    assert beside is not None
    assert beside[0] != str(fake)


def test_build_venv_installs_into_the_named_venv_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What misled the tiers before: a PATH without uv, VIRTUAL_ENV naming the test runner's own environment,
    # and a working folder with a .venv in it.
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    (tmp_path / ".venv").mkdir()
    monkeypatch.chdir(tmp_path)
    wheel = probe_wheel(tmp_path)

    python = harness.build_venv(tmp_path / "target", [str(wheel)], what="installing the probe")

    installed = subprocess.run([python, "-c", f"import {PROBE}; print({PROBE}.MARK)"], capture_output=True, text=True)
    assert installed.stdout.strip() == "installed", installed.stderr
    runner = subprocess.run([sys.executable, "-c", f"import {PROBE}"], capture_output=True, text=True)
    assert runner.returncode != 0, "the probe leaked into the environment running the tests"
    assert not any((tmp_path / ".venv").iterdir())


def test_a_failed_install_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(harness.HarnessError, match="installing nothing failed"):
        harness.build_venv(tmp_path / "v", [str(tmp_path / "missing.whl")], what="installing nothing")


def test_free_port_is_bindable_on_loopback() -> None:
    port = harness.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))

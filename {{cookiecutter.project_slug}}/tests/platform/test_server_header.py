"""Every command that serves the app tells uvicorn to leave out its ``server: uvicorn`` header.

The header is uvicorn's, added outside the app (``--no-server-header`` is the only switch), so the commands are
what is checked: the Makefile's targets and the container's entry point.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVING_FILES = ("Makefile", "docker-entrypoint.sh")


def serving_commands(path: Path) -> list[str]:
    """Each logical line (backslash continuations joined) that runs uvicorn on the app."""
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    return [line.strip() for line in text.splitlines() if re.search(r"uvicorn\)? app\.main:app", line)]


@pytest.mark.parametrize("name", SERVING_FILES)
def test_every_serving_command_drops_the_server_header(name: str) -> None:
    commands = serving_commands(ROOT / name)
    assert commands, f"{name} runs no uvicorn"
    assert [command for command in commands if "--no-server-header" not in command] == []

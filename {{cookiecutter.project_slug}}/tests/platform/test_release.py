"""One rule names the release: <name>@<version> of pyproject.toml, which CI gives the Sentry release it creates."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.core.config import Settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_release_the_service_reports_is_the_one_ci_creates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_RELEASE", raising=False)
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]

    reported = Settings(_env_file=None).SENTRY_RELEASE

    assert reported == f"{project['name']}@{project['version']}"

"""The sentry-sdk 3 tier: a baked service, installed as its README says, then given the newest sentry-sdk 3
(pre-release until 3.0 is final) in place of the 2.x its pin allows, passes its own gates unchanged.

This is what Dependabot's 3.0 pull request will do to every service baked from the template: change the pin and
install. Nothing in the service is edited, and the suite's warnings-as-errors catch any deprecated call. Only the
SDK is installed at a new version (``--no-deps``, then ``pip check`` that 3.x asks for nothing the bake lacks), since a
pre-release resolver run also takes pre-releases of other packages (httpx 1.0's betas, which sentry-sdk's httpx
integration refuses).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.baking import Baked
from tests.test_generated_project import assert_ok, pytest_summary, run

pytestmark = pytest.mark.slow

SDK3 = "sentry-sdk>=3.0.0a1,<4"
VERSION = "import sentry_sdk; print(sentry_sdk.VERSION)"


def install_with_sdk3(project: Path, venv: Path) -> Path:
    """A fresh virtualenv with the bake installed (``pip install -e ".[dev]"``), then sentry-sdk 3 alone."""
    assert_ok(run([sys.executable, "-m", "venv", venv], cwd=project))
    python = venv / "bin" / "python"
    assert_ok(run([python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=project, timeout=900))
    assert_ok(run([python, "-m", "pip", "install", "--quiet", "--pre", "--no-deps", SDK3], cwd=project, timeout=600))
    # What 3.x requires, the bake already has: pip check names any requirement of it left unmet.
    checked = run([python, "-m", "pip", "check"], cwd=project)
    unmet = [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("sentry-sdk ")]
    assert unmet == [], unmet
    return python


@pytest.fixture(scope="module")
def default_sdk3(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project = bake(tmp_path_factory.mktemp("sdk3")).project
    return project, install_with_sdk3(project, tmp_path_factory.mktemp("sdk3-venv") / "venv")


def test_the_tier_runs_sentry_sdk_3(default_sdk3: tuple[Path, Path]) -> None:
    project, python = default_sdk3
    version = assert_ok(run([python, "-c", VERSION], cwd=project)).strip()
    assert version.startswith("3."), version
    print(f"sentry-sdk {version}")  # the tier's result names the SDK it ran on


def test_default_bake_passes_its_gates_on_sentry_sdk_3(default_sdk3: tuple[Path, Path]) -> None:
    """ruff, mypy --strict and the whole generated suite (in parallel workers), spans streamed as 3.x alone does."""
    project, python = default_sdk3
    make = ["make", "lint", "typecheck", "test", f"PYTHON={python}", "PYTEST_ARGS=-n 2"]
    output = assert_ok(run(make, cwd=project))
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0
    assert "Success: no issues found" in output
    assert "span streaming sends none" in output, "the transaction-only test is skipped, and says why"


def test_worker_bake_suite_passes_on_sentry_sdk_3(bake: Callable[..., Baked], tmp_path: Path) -> None:
    """Jobs, schedules and their traces on sentry-sdk 3: the worker bake's types and suite."""
    project = bake(tmp_path, include_worker="yes").project
    python = install_with_sdk3(project, tmp_path / "venv")
    output = assert_ok(run(["make", "typecheck", "test", f"PYTHON={python}", "PYTEST_ARGS=-n 2"], cwd=project))
    assert "Success: no issues found" in output
    summary = pytest_summary(output)
    assert summary.get("passed", 0) > 50
    assert summary.get("failed", 0) == 0

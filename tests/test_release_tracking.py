"""The baked CI workflow tells Sentry about releases: created under the name the service reports, marked deployed
per environment on request, and skipped cleanly without a SENTRY_AUTH_TOKEN secret.

The workflow's shell steps are run here as GitHub runs them (bash, a GITHUB_OUTPUT file); the Sentry step itself
needs Sentry and is checked for what it is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.baking import Baked

SLUG, VERSION = "acme-orders", "2.3.1"
RUNS_IF_PRESENT = "steps.token.outputs.present == 'true'"


@pytest.fixture(scope="module")
def project(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("release"), project_name="Acme Orders", version=VERSION).project


@pytest.fixture(scope="module")
def job(project: Path) -> dict[str, Any]:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    release_job: dict[str, Any] = workflow["jobs"]["sentry-release"]
    return release_job


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s.get("name") == name or str(s.get("uses", "")).startswith(name)]
    return found


def run_step(command: str, cwd: Path, tmp_path: Path, **env: str) -> tuple[str, str]:
    """Run a step's shell as GitHub does; return what it wrote to GITHUB_OUTPUT and to stdout."""
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
    }
    result = subprocess.run(
        ["bash", "-e", "-c", command], cwd=cwd, env={**environment, **env}, capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    return output.read_text(encoding="utf-8"), result.stdout


def test_release_runs_only_after_the_checks_pass_on_the_default_branch(job: dict[str, Any]) -> None:
    assert job["needs"] == "check"
    assert "workflow_dispatch" in job["if"]
    assert job["if"].startswith("github.ref == format('refs/heads/{0}', github.event.repository.default_branch) && ")
    assert job["env"] == {"SENTRY_AUTH_TOKEN": "${{ secrets.SENTRY_AUTH_TOKEN }}"}


def test_release_runs_in_the_environment_that_holds_the_token(job: dict[str, Any]) -> None:
    assert job["environment"] == "sentry-release"


def test_without_a_token_the_job_says_so_and_skips_every_other_step(
    job: dict[str, Any], project: Path, tmp_path: Path
) -> None:
    output, stdout = run_step(step(job, "Look for a Sentry token")["run"], project, tmp_path, SENTRY_AUTH_TOKEN="")

    assert output == ""
    assert stdout.startswith("::notice")
    assert "SENTRY_AUTH_TOKEN" in stdout
    assert [s.get("if") for s in job["steps"][1:]] == [RUNS_IF_PRESENT] * (len(job["steps"]) - 1)


def test_with_a_token_the_release_steps_run(job: dict[str, Any], project: Path, tmp_path: Path) -> None:
    output, _ = run_step(step(job, "Look for a Sentry token")["run"], project, tmp_path, SENTRY_AUTH_TOKEN="sntrys_x")  # noqa: S106

    assert output.strip() == "present=true"


def test_the_release_is_named_as_the_service_reports_it(job: dict[str, Any], project: Path, tmp_path: Path) -> None:
    output, _ = run_step(step(job, "Name the release")["run"], project, tmp_path)

    # The generated suite's tests/test_release.py checks that the service reports this same name.
    assert output.strip() == f"name={SLUG}@{VERSION}"


def test_the_sentry_action_gets_the_release_and_the_deployed_environment(job: dict[str, Any]) -> None:
    action = step(job, "getsentry/action-release@")

    assert action["with"]["release"] == "${{ steps.release.outputs.name }}"
    assert action["with"]["environment"] == "${{ inputs.environment }}"
    assert set(action["env"]) == {"SENTRY_ORG", "SENTRY_PROJECT"}


def test_a_manual_run_offers_every_environment(project: Path) -> None:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    overlays = sorted(path.name for path in (project / "deploy" / "k8s" / "overlays").iterdir())

    assert sorted(triggers["workflow_dispatch"]["inputs"]["environment"]["options"]) == overlays

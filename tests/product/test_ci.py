"""The baked CI workflow: the Makefile's targets, from the locked environment, against PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.product.baked import CI_TARGETS, MAKE_CALL, Product, make_targets, recipe

# CI workflow


def workflow_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_ci_workflow_calls_the_makefile_targets(product: Product) -> None:
    workflow = product.yaml(".github/workflows/ci.yml")
    called = [target for step in workflow_steps(workflow) for target in MAKE_CALL.findall(step.get("run", ""))]

    assert not CI_TARGETS - set(called)
    assert not set(called) - make_targets(product.text("Makefile"))
    assert called[:2] == ["check-lock", "sync"]


def test_ci_runs_every_target_with_the_locked_environment(product: Product) -> None:
    workflow = product.yaml(".github/workflows/ci.yml")
    job = workflow["jobs"]["check"]

    assert job["env"]["PYTHON"] == ".venv/bin/python"
    assert recipe(product.text("Makefile"), "sync") == ["$(UV) sync --locked --extra dev"]
    assert recipe(product.text("Makefile"), "check-lock") == ["$(UV) lock --locked"]


def test_ci_workflow_runs_on_pushes_and_pull_requests(product: Product) -> None:
    workflow = product.yaml(".github/workflows/ci.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True

    assert {"push", "pull_request"} <= set(triggers)


def test_ci_tests_against_a_postgresql_service(product: Product) -> None:
    job = product.yaml(".github/workflows/ci.yml")["jobs"]["check"]

    assert job["services"]["postgres"]["image"] == "postgres:15"
    assert job["env"]["TEST_DATABASE_URL"] == "postgresql+asyncpg://postgres:postgres@localhost:5432/postgres"
    assert job["env"]["DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_ci_sets_up_the_python_version_the_project_was_generated_for(product: Product, tmp_path: Path) -> None:
    steps = workflow_steps(product.yaml(".github/workflows/ci.yml"))
    (reader,) = [step for step in steps if step.get("id") == "python"]
    (setup,) = [step for step in steps if str(step.get("uses", "")).startswith("actions/setup-python@")]
    output = tmp_path / "github-output"
    environment = {**os.environ, "GITHUB_OUTPUT": str(output)}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"

    subprocess.run(["bash", "-c", reader["run"]], cwd=product.path, env=environment, timeout=30, check=True)

    assert output.read_text(encoding="utf-8").strip() == f"version={product.answers.python_version}"
    assert setup["with"]["python-version"] == "${{ steps.python.outputs.version }}"


def test_ci_pins_every_action_to_a_full_commit_with_its_version_beside_it(product: Product) -> None:
    uses = re.findall(r"^\s*- uses: (\S+)(.*)$", product.text(".github/workflows/ci.yml"), re.MULTILINE)

    assert len(uses) == 5
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (action, comment)


def test_ci_checkouts_keep_no_credentials(product: Product) -> None:
    jobs = product.yaml(".github/workflows/ci.yml")["jobs"]
    checkouts = [
        step for job in jobs.values() for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@")
    ]

    assert len(checkouts) == 2
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)

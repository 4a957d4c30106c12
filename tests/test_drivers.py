"""The template bakes however cookiecutter is driven: pytest-cookies and cookiecutter's Python API, no set-up."""

from __future__ import annotations

import ast
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.support.baking import BAKE_VARIABLES, TEMPLATE_DIR

# Answers given through extra_context are rendered as Jinja by cookiecutter, so this one holds no `{{ }}`.
AWKWARD_NAME = 'Ünïcode "Quoted" O\'Brien \\ trailing 🚀👩‍💻'


@pytest.fixture(autouse=True)
def no_dsn_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The post hook reads SENTRY_DSN_<ENV>: bakes here start without them."""
    for name in BAKE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


def project_name_in_config(project: Path) -> object:
    """The value of PROJECT_NAME in the baked app/core/config.py."""
    tree = ast.parse((project / "app" / "core" / "config.py").read_text(encoding="utf-8"))
    return next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["PROJECT_NAME"]
    )


def project_metadata(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_pytest_cookies_bakes_the_default_answers(cookies: Any) -> None:
    result = cookies.bake(template=str(TEMPLATE_DIR))

    assert (result.exit_code, result.exception) == (0, None)
    assert result.project_path.name == "my-service"
    assert stat.S_IMODE((result.project_path / ".env.production").stat().st_mode) == 0o600


def test_pytest_cookies_bakes_an_awkward_name_into_python_and_toml(cookies: Any) -> None:
    answers = {"project_name": AWKWARD_NAME, "project_description": AWKWARD_NAME, "author_name": AWKWARD_NAME}

    result = cookies.bake(template=str(TEMPLATE_DIR), extra_context=answers)

    assert (result.exit_code, result.exception) == (0, None)
    assert project_name_in_config(result.project_path) == AWKWARD_NAME
    metadata = project_metadata(result.project_path)
    assert (metadata["description"], metadata["authors"][0]["name"]) == (AWKWARD_NAME, AWKWARD_NAME)


def test_cookiecutter_python_api_bakes_without_set_up(tmp_path: Path) -> None:
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f'replay_dir: "{tmp_path / "replay"}"\ncookiecutters_dir: "{tmp_path / "cache"}"\n')

    project = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            output_dir=str(tmp_path / "out"),
            config_file=str(config),
            extra_context={"project_name": AWKWARD_NAME, "project_slug": "awkward"},
        )
    )

    assert project == tmp_path / "out" / "awkward"
    assert project_name_in_config(project) == AWKWARD_NAME
    assert project_metadata(project)["name"] == "awkward"

"""The generated README's recipes ("Adding a resource", "Background jobs"), followed to the letter, work.

The test takes everything from the README itself and does what its text says, as a reader pasting it would: each
``python`` block names its file on its first line: ``# path`` for a new file (written whole), ``# path (add at the
end)`` (or a bare ``(add)``) for lines appended to an existing file, ``# path (add to the imports)`` for lines
pasted below the file's last top-level import. Each ``bash`` block holds commands run as written, in the project,
with the project's virtualenv first on PATH. Nothing is tidied on the reader's behalf: only the recipe's own
``make format`` does that. The recipe cannot rot: a step that no longer works fails here, on a default and a lean
bake.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.baking import Baked
from tests.support.harness import build_venv, clean_environment

pytestmark = pytest.mark.slow

BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_HEADER = re.compile(r"# (?P<path>[\w/.]+\.py)(?: \((?P<where>add|add at the end|add to the imports)\))?")
COMMAND_TIMEOUT_SECONDS = 600


def recipe(readme: str, title: str = "Adding a resource") -> list[tuple[str, str]]:
    """The code blocks of the README's section ``## title`` in order, as (language, text)."""
    section = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert section is not None, f'the README has no "## {title}" section'
    return BLOCK.findall(section.group(1))


def append_lines(path: Path, lines: list[str]) -> None:
    """Paste `lines` at the end of the file, as they stand."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text + ("" if text.endswith("\n") else "\n") + "\n".join(lines) + "\n", encoding="utf-8")


def insert_after_imports(path: Path, lines: list[str]) -> None:
    """Paste `lines` right below the file's last top-level import statement, as they stand."""
    source = path.read_text(encoding="utf-8").splitlines()
    imports = [node for node in ast.parse("\n".join(source)).body if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports, f"{path.name} has no imports to add to"
    last_import = imports[-1].end_lineno or 0
    path.write_text("\n".join([*source[:last_import], *lines, *source[last_import:]]) + "\n", encoding="utf-8")


def follow(project: Path, language: str, text: str, env: dict[str, str]) -> None:
    """Do what one block of the recipe says."""
    if language == "bash":
        for command in text.splitlines():
            if not command.strip() or command.lstrip().startswith("#"):
                continue
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
                check=False,
            )
            assert result.returncode == 0, (
                f"{command} exited {result.returncode}:\n{result.stdout[-6000:]}{result.stderr[-3000:]}"
            )
        return
    header, _, body = text.partition("\n")
    named = FILE_HEADER.fullmatch(header)
    assert named is not None, f"a python block of the recipe does not start with its file's path: {header!r}"
    path = project / named["path"]
    if named["where"] in {"add", "add at the end"}:  # lines to add, with no place named, go at the end
        append_lines(path, body.splitlines())
    elif named["where"] == "add to the imports":
        insert_after_imports(path, body.splitlines())
    else:
        assert not path.exists(), f"{named['path']} exists already: the recipe would overwrite it"
        path.write_text(body, encoding="utf-8")


@pytest.mark.parametrize(
    ("include_examples", "migrations"),
    [("yes", ["0001_create_posts.py", "0002_add_tags.py"]), ("no", ["0001_add_tags.py"])],
    ids=["default", "lean"],
)
def test_readme_recipe_adds_a_resource_that_passes_lint_types_tests_and_migrations(
    bake: Callable[..., Baked], tmp_path: Path, include_examples: str, migrations: list[str]
) -> None:
    project = bake(tmp_path / "bake", include_examples=include_examples).project
    # The bake's next steps: a git repository (`make check` refuses any tracked file that holds a Sentry DSN).
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    python = build_venv(tmp_path / "venv", ["-e", f"{project}[dev]"], what="install the bake")
    env = clean_environment()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TEST_DATABASE_URL", None)
    # The bake's next steps: pin the dependencies (`make check` refuses a missing or stale uv.lock).
    subprocess.run(["make", "lock"], cwd=project, env=env, check=True, capture_output=True, timeout=600)
    steps = recipe((project / "README.md").read_text(encoding="utf-8"))
    assert [language for language, _ in steps].count("bash") >= 2, "the recipe names its commands"

    for language, text in steps:
        follow(project, language, text, env)

    # The resource's test went where the recipe says an author's tests go, beside the platform's, not among them.
    assert (project / "tests" / "features" / "test_tags.py").is_file()

    assert sorted(path.name for path in (project / "migrations" / "versions").glob("*.py")) == migrations
    assert "sa.UniqueConstraint" in (project / "migrations" / "versions" / migrations[-1]).read_text(encoding="utf-8")


@pytest.mark.parametrize("include_examples", ["yes", "no"], ids=["default", "lean"])
def test_readme_job_recipe_adds_a_job_and_a_schedule_that_pass_lint_types_and_tests(
    bake: Callable[..., Baked], tmp_path: Path, include_examples: str
) -> None:
    """The worker bake's "Background jobs" section: its job, its schedule and its test, pasted as written."""
    project = bake(tmp_path / "bake", include_worker="yes", include_examples=include_examples).project
    python = build_venv(tmp_path / "venv", ["-e", f"{project}[dev]"], what="install the bake")
    env = clean_environment()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TEST_DATABASE_URL", None)
    steps = recipe((project / "README.md").read_text(encoding="utf-8"), "Background jobs")
    assert [language for language, _ in steps].count("python") == 3

    for language, text in steps:
        follow(project, language, text, env)

    tasks = (project / "app" / "worker" / "tasks.py").read_text(encoding="utf-8")
    assert "async def send_welcome_mail" in tasks
    assert "async def nightly_report" in tasks
    assert (project / "tests" / "features" / "test_welcome_mail.py").is_file()

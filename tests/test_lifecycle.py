"""A baked service keeps following the template: cruft creates and updates it, the env files stay private and
untouched, no Sentry DSN reaches a file git tracks, and uv.lock makes its installs reproducible."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.baking import BAKE_VARIABLES, TEMPLATE_DIR, Baked
from tests.support.harness import uv_command

Bake = Callable[..., Baked]

ENV_FILES = (".env", ".env.development", ".env.staging", ".env.production")
# Shaped like a real DSN (Sentry's keys are 32 hex digits), which is what the tracked-DSN check looks for.
REAL_DSN = "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/4501"
MADE_UP_DSN = "https://public@example.com/1"
# Folders of a working template that are not part of it.
NOT_TEMPLATE = shutil.ignore_patterns(".git", ".venv", ".*_cache", "__pycache__", "*.py[cod]", "build", ".cache")
PRODUCTION_RATE = 'Tuning(traces_sample_rate="0.01"'
CODE_CHANGE = "TEMPLATE_UPDATE_ARRIVED = True\n"
README_CHANGE = "\nThis line came with a template update.\n"
DEV_TOOLS = ("pytest", "ruff", "mypy", "pre-commit", "uv")
UV_EXPORT = re.compile(r"-m uv (export [^;&]*)")


def run(args: list[str | Path], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would, with git configured for this run only (`env` may give a sandboxed HOME)."""
    environment = {name: value for name, value in os.environ.items() if name not in BAKE_VARIABLES}
    environment |= {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Template Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Template Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "PYTHONIOENCODING": "utf-8",
    }
    environment |= env or {}
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def commit_all(folder: Path, message: str) -> None:
    if not (folder / ".git").exists():
        ok(run(["git", "init", "--quiet", "--initial-branch=main"], cwd=folder))
    ok(run(["git", "add", "--all"], cwd=folder))
    ok(run(["git", "commit", "--quiet", "--message", message], cwd=folder))


def check_no_dsn(project: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "scripts/check_no_dsn.py"], cwd=project)


def cruft(*args: str, cwd: Path, home: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run cruft with HOME (where cookiecutter looks for its user config) in the test's own folder."""
    return run([sys.executable, "-m", "cruft", *args], cwd=cwd, env={"HOME": str(home), **variables})


def env_file_states(project: Path) -> dict[str, tuple[bytes, int]]:
    return {name: ((project / name).read_bytes(), stat.S_IMODE((project / name).stat().st_mode)) for name in ENV_FILES}


# The check for tracked DSNs, on a plain bake


@pytest.fixture
def checkout(bake: Bake, tmp_path: Path) -> Path:
    """A bake whose env files hold real-looking DSNs, committed to git."""
    project = bake(tmp_path / "bake", sentry_dsn_production=REAL_DSN).project
    commit_all(project, "Bake the service")
    return project


def test_pyproject_tells_cruft_to_skip_every_env_file_the_hook_writes(bake: Bake, tmp_path: Path) -> None:
    project = bake(tmp_path).project
    written = {path.name for path in project.glob(".env*") if path.name != ".env.example"}

    skip = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["cruft"]["skip"]

    assert set(skip) == written == set(ENV_FILES)


def test_dsn_check_passes_when_only_the_ignored_env_files_hold_a_dsn(checkout: Path) -> None:
    assert REAL_DSN in (checkout / ".env.production").read_text(encoding="utf-8")

    result = check_no_dsn(checkout)

    assert (result.returncode, result.stderr) == (0, "")


def test_dsn_check_names_each_tracked_file_and_line_holding_a_dsn(checkout: Path) -> None:
    (checkout / "app" / "settings_override.py").write_text(f'"""Oops."""\n\nDSN = "{REAL_DSN}"\n', encoding="utf-8")
    ok(run(["git", "add", "app/settings_override.py"], cwd=checkout))

    result = check_no_dsn(checkout)

    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "app/settings_override.py:3: holds a Sentry DSN"
    assert REAL_DSN not in result.stderr


def test_dsn_check_knows_a_dsn_by_its_shape(checkout: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"
    lines = [
        f"SaaS: {REAL_DSN}",
        f"self-hosted with a port and a path: 'https://{key}@sentry.example.com:9000/sentry/7'",
        f"legacy key and secret: https://{key}:{key.upper()}@o1.ingest.sentry.io/8",
        f"plain http: http://{key}@10.0.0.5/9",
        f"made up: {MADE_UP_DSN}",
        "a placeholder: https://<key>@o0.ingest.sentry.io/<project>",
        "a database: postgresql+asyncpg://app:secret@db:5432/app",
    ]
    (checkout / "docs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ok(run(["git", "add", "docs.txt"], cwd=checkout))

    flagged = [line for line in check_no_dsn(checkout).stderr.splitlines() if line.endswith("holds a Sentry DSN")]

    assert flagged == [f"docs.txt:{number}: holds a Sentry DSN" for number in (1, 2, 3, 4)]


def test_dsn_check_knows_the_readme_and_region_dsn_shapes(checkout: Path) -> None:
    lines = [
        "the README's example: https://abc123def456@o1.ingest.sentry.io/42",
        "a short key on Sentry's US region: https://abc@o7.ingest.us.sentry.io/42",
        "a short key on Sentry's EU region: SENTRY_DSN=https://k3y@o7.ingest.de.sentry.io/42",
        "a generated key on a self-hosted Sentry: https://a1b2c3d4e5f6a7b8@sentry.example.com/3",
        "a made-up key on a made-up host: https://secretkey@o1.ingest.example.com/42",
        "a local test server: http://public@127.0.0.1:8000/1",
        "a placeholder: https://KEY@HOST/PROJECT",
    ]
    (checkout / "notes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ok(run(["git", "add", "notes.md"], cwd=checkout))

    flagged = [line for line in check_no_dsn(checkout).stderr.splitlines() if line.endswith("holds a Sentry DSN")]

    assert flagged == [f"notes.md:{number}: holds a Sentry DSN" for number in (1, 2, 3, 4)]


def test_fresh_bake_passes_the_dsn_check_once_tracked(bake: Bake, tmp_path: Path) -> None:
    project = bake(tmp_path / "bake").project
    commit_all(project, "Bake the service")

    result = check_no_dsn(project)

    assert (result.returncode, result.stderr) == (0, "")


def test_dsn_check_ignores_a_made_up_dsn(checkout: Path) -> None:
    (checkout / "tests" / "test_made_up.py").write_text(f'"""A fake."""\n\nDSN = "{MADE_UP_DSN}"\n', encoding="utf-8")
    ok(run(["git", "add", "--all"], cwd=checkout))

    assert check_no_dsn(checkout).returncode == 0


def test_dsn_check_ignores_files_git_does_not_track(checkout: Path) -> None:
    (checkout / "notes.txt").write_text(REAL_DSN, encoding="utf-8")

    assert check_no_dsn(checkout).returncode == 0


def test_dsn_check_outside_a_repository_says_so_in_one_line(bake: Bake, tmp_path: Path) -> None:
    project = bake(tmp_path / "bake").project

    result = run(
        [sys.executable, "scripts/check_no_dsn.py"], cwd=project, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)}
    )

    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("check_no_dsn: cannot list the files git tracks")
    assert "git init" in result.stderr


# The cruft round trip


@dataclass(frozen=True)
class RoundTrip:
    """A service created with cruft, its env files edited, then updated to a changed template."""

    project: Path
    created: subprocess.CompletedProcess[str]
    diff_before_update: subprocess.CompletedProcess[str]
    env_before_update: dict[str, tuple[bytes, int]]
    updated: subprocess.CompletedProcess[str]
    checked: subprocess.CompletedProcess[str]


def change_template(template: Path) -> None:
    """What a platform team might change: code, the README and the post hook's tuning of production."""
    hook = template / "hooks" / "post_gen_project.py"
    text = hook.read_text(encoding="utf-8")
    assert PRODUCTION_RATE in text
    hook.write_text(text.replace(PRODUCTION_RATE, 'Tuning(traces_sample_rate="0.05"'), encoding="utf-8")
    project = template / "{{cookiecutter.project_slug}}"
    with (project / "app" / "core" / "config.py").open("a", encoding="utf-8") as config:
        config.write(f"\n\n{CODE_CHANGE}")
    with (project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write(README_CHANGE)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    workdir = tmp_path_factory.mktemp("cruft")
    home = workdir / "home"
    home.mkdir()
    template = shutil.copytree(TEMPLATE_DIR, workdir / "template", ignore=NOT_TEMPLATE)
    commit_all(template, "Template as released")

    created = ok(
        cruft(
            "create",
            str(template),
            "--no-input",
            "--output-dir",
            str(workdir / "services"),
            "--extra-context",
            json.dumps({"project_slug": "orders", "environment": "staging"}),
            cwd=workdir,
            home=home,
            SENTRY_DSN_PRODUCTION=REAL_DSN,
        )
    )
    project = workdir / "services" / "orders"
    commit_all(project, "Create the service with cruft")
    with (project / ".env.staging").open("a", encoding="utf-8") as edited:
        edited.write("LOG_LEVEL=WARNING\n")
    diff_before_update = cruft("diff", "--exit-code", cwd=project, home=home)
    env_before_update = env_file_states(project)

    change_template(template)
    commit_all(template, "Change code, README and production tuning")
    updated = ok(cruft("update", "--skip-apply-ask", cwd=project, home=home))
    checked = cruft("check", cwd=project, home=home)
    commit_all(project, "Update from the template")
    return RoundTrip(project, created, diff_before_update, env_before_update, updated, checked)


@pytest.mark.slow
def test_cruft_create_says_nothing_of_replay_files(round_trip: RoundTrip) -> None:
    assert "replay" not in round_trip.created.stdout + round_trip.created.stderr


@pytest.fixture(scope="module")
def created_with_a_dsn_answer(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    workdir = tmp_path_factory.mktemp("dsn-answer")
    home = workdir / "home"
    home.mkdir()
    return ok(
        cruft(
            "create",
            str(TEMPLATE_DIR),
            "--no-input",
            "--output-dir",
            str(workdir / "services"),
            "--extra-context",
            json.dumps({"project_slug": "orders", "sentry_dsn_staging": REAL_DSN}),
            cwd=workdir,
            home=home,
        )
    )


@pytest.mark.slow
def test_cruft_create_with_a_dsn_answer_says_nothing_of_replay_files(
    created_with_a_dsn_answer: subprocess.CompletedProcess[str],
) -> None:
    assert "replay" not in created_with_a_dsn_answer.stdout + created_with_a_dsn_answer.stderr


@pytest.mark.slow
def test_cruft_create_warns_of_a_dsn_given_as_an_answer_without_showing_it(
    created_with_a_dsn_answer: subprocess.CompletedProcess[str],
) -> None:
    warnings = [line for line in created_with_a_dsn_answer.stderr.splitlines() if line.startswith("warning:")]

    assert len(warnings) == 1
    assert "sentry_dsn_staging" in warnings[0]
    assert ".cruft.json" in warnings[0]
    assert "$SENTRY_DSN_STAGING" in warnings[0]
    assert (
        REAL_DSN.split("//")[1].split("@")[0] not in created_with_a_dsn_answer.stdout + created_with_a_dsn_answer.stderr
    )


@pytest.mark.slow
def test_cruft_create_prints_the_next_steps(round_trip: RoundTrip) -> None:
    assert "Next steps:" in round_trip.created.stdout


@pytest.mark.slow
def test_cruft_diff_output_holds_nothing_from_the_hooks(round_trip: RoundTrip) -> None:
    assert (round_trip.diff_before_update.stdout, round_trip.diff_before_update.stderr) == ("", "")


@pytest.mark.slow
def test_cruft_update_output_holds_nothing_from_the_hooks(round_trip: RoundTrip) -> None:
    output = round_trip.updated.stdout + round_trip.updated.stderr

    assert "Next steps" not in output
    assert "Created " not in output
    assert "warning:" not in output


@pytest.mark.slow
def test_cruft_create_writes_the_dsn_given_as_a_variable_only_to_the_env_file(round_trip: RoundTrip) -> None:
    env_production = round_trip.env_before_update[".env.production"][0].decode()

    assert f"SENTRY_DSN={REAL_DSN}" in env_production.splitlines()
    assert REAL_DSN not in (round_trip.project / ".cruft.json").read_text(encoding="utf-8")


@pytest.mark.slow
def test_cruft_diff_does_not_report_edits_to_env_files(round_trip: RoundTrip) -> None:
    assert round_trip.diff_before_update.returncode == 0, round_trip.diff_before_update.stdout


@pytest.mark.slow
def test_cruft_update_brings_the_template_change(round_trip: RoundTrip) -> None:
    project = round_trip.project

    assert (project / "app" / "core" / "config.py").read_text(encoding="utf-8").endswith(CODE_CHANGE)
    assert (project / "README.md").read_text(encoding="utf-8").endswith(README_CHANGE)


@pytest.mark.slow
def test_cruft_update_leaves_env_files_byte_identical_and_private(round_trip: RoundTrip) -> None:
    after = env_file_states(round_trip.project)

    assert after == round_trip.env_before_update
    assert {mode for _, mode in after.values()} == {0o600}


@pytest.mark.slow
def test_cruft_check_passes_after_update(round_trip: RoundTrip) -> None:
    assert round_trip.checked.returncode == 0, round_trip.checked.stdout + round_trip.checked.stderr


@pytest.mark.slow
def test_dsn_check_passes_on_the_updated_service(round_trip: RoundTrip) -> None:
    assert check_no_dsn(round_trip.project).returncode == 0


@pytest.mark.slow
def test_dsn_check_trips_on_a_dsn_planted_in_cruft_json(round_trip: RoundTrip, tmp_path: Path) -> None:
    project = shutil.copytree(round_trip.project, tmp_path / "planted", symlinks=True)
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    state["context"]["cookiecutter"]["sentry_dsn_production"] = REAL_DSN
    (project / ".cruft.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    ok(run(["git", "add", ".cruft.json"], cwd=project))

    result = check_no_dsn(project)

    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stderr.splitlines() if "holds a Sentry DSN" in line] == [
        ".cruft.json"
    ]


# Reproducible installs: uv.lock, made and checked by the service's own commands (uv resolves against PyPI)


def make(target: str, project: Path) -> subprocess.CompletedProcess[str]:
    uv = uv_command()
    if uv is None:
        pytest.fail("uv is missing: `make install` puts it into the template's virtualenv")
    return run(["make", target, f"UV={shlex.join(uv)}"], cwd=project)


@pytest.fixture(scope="module")
def locked(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bake after `make lock`."""
    project = bake(tmp_path_factory.mktemp("locked")).project
    ok(make("lock", project))
    return project


@pytest.mark.slow
def test_check_lock_fails_before_make_lock(bake: Bake, tmp_path: Path) -> None:
    project = bake(tmp_path).project

    result = make("check-lock", project)

    assert result.returncode != 0
    assert "Unable to find lockfile" in result.stderr


@pytest.mark.slow
def test_make_lock_writes_a_lock_that_check_lock_accepts(locked: Path) -> None:
    assert "fastapi" in (locked / "uv.lock").read_text(encoding="utf-8")
    ok(make("check-lock", locked))


@pytest.mark.slow
def test_check_lock_fails_when_pyproject_no_longer_matches(locked: Path, tmp_path: Path) -> None:
    project = shutil.copytree(locked, tmp_path / "changed")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('"httpx>=0.28",', '"httpx>=0.28",\n    "idna>=3.0",'),
        encoding="utf-8",
    )

    result = make("check-lock", project)

    assert result.returncode != 0
    assert "needs to be updated" in result.stderr


@pytest.mark.slow
def test_docker_image_requirements_from_the_lock_are_pinned_runtime_only(locked: Path) -> None:
    uv = uv_command()
    assert uv is not None
    (export,) = UV_EXPORT.findall((locked / "Dockerfile").read_text(encoding="utf-8"))
    ok(run([*uv, *shlex.split(export)], cwd=locked))

    requirements = (locked / "requirements.txt").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", requirements, re.MULTILINE))
    assert {"fastapi", "sentry-sdk", "sqlalchemy", "uvicorn"} <= set(pinned)
    assert [tool for tool in DEV_TOOLS if tool in pinned] == []
    assert "--hash=sha256:" in requirements

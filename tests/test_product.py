"""The baked project as a product: its Makefile, CI workflow, Docker files, pre-commit hooks and README.

No Docker engine is available where these tests run, so the Docker files are checked statically (and the entry
point is run with stand-ins for uvicorn and alembic). Running ruff, mypy and the generated suite is
test_generated_project.py's business.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.baking import TEMPLATE_DIR, Baked

Bake = Callable[..., Baked]

TEMPLATE_PROJECT = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
TRICKY_NAME = "O'Brien's \"Quoted\" Café ☕ {{ not jinja }} | Orders"

REQUIRED_TARGETS = {
    "install",
    "run",
    "test",
    "lint",
    "typecheck",
    "format",
    "migrate",
    "revision",
    "check-migrations",
    "check-dsn",
    "sync",
    "lock",
    "check-lock",
}
CI_TARGETS = {"check-lock", "sync", "check-dsn", "lint", "typecheck", "test", "check-migrations"}
# Files without template syntax: baked byte for byte as written, so their own tools can update them.
VERBATIM_FILES = (
    "Makefile",
    ".dockerignore",
    "docker-entrypoint.sh",
    "docker-compose.yml",
    ".pre-commit-config.yaml",
    ".github/workflows/ci.yml",
    ".github/dependabot.yml",
)
# File, check-jsonschema's built-in schema for it.
SCHEMAS = {
    ".github/workflows/ci.yml": "vendor.github-workflows",
    ".github/dependabot.yml": "vendor.dependabot",
    "docker-compose.yml": "vendor.compose-spec",
}
DEV_TOOLS = ("[dev]", "--extra dev", "pytest", "ruff", "mypy", "pre-commit")
TARGET_LINE = re.compile(r"^([a-z][a-z0-9-]*)\s*:(?!=)", re.MULTILINE)
MAKE_CALL = re.compile(r"\bmake\s+([a-z][a-z0-9-]*)")
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Answers:
    """One bake of the matrix: its answers, and whether they are typed at the prompts (not passed as CLI args)."""

    values: dict[str, str]
    typed: bool = False

    @property
    def python_version(self) -> str:
        return self.values.get("python_version", "3.11")


MATRIX = {
    "default": Answers({}),
    "python-3.12": Answers({"python_version": "3.12"}),
    "python-3.13": Answers({"python_version": "3.13"}),
    "staging": Answers({"environment": "staging"}),
    "production": Answers({"environment": "production"}),
    "tricky-name": Answers({"project_name": TRICKY_NAME, "project_slug": "obrien-orders"}, typed=True),
}


@dataclass(frozen=True)
class Product:
    answers: Answers
    path: Path

    def text(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    def yaml(self, name: str) -> Any:
        return yaml.safe_load(self.text(name))


@pytest.fixture(scope="module", params=list(MATRIX), ids=list(MATRIX))
def product(request: pytest.FixtureRequest, bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Product:
    answers = MATRIX[request.param]
    baked = bake(tmp_path_factory.mktemp(request.param), typed=answers.typed, **answers.values)
    return Product(answers, baked.project)


@pytest.fixture(scope="module")
def default_product(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default-only")).project


# Makefile


def make_targets(makefile: str) -> set[str]:
    return set(TARGET_LINE.findall(makefile))


def recipe(makefile: str, target: str) -> list[str]:
    """The recipe lines of `target`, without their leading TAB."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{re.escape(target)}\s*:(?!=)", line))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line[1:])
    return body


def test_makefile_defines_every_required_target(product: Product) -> None:
    assert not REQUIRED_TARGETS - make_targets(product.text("Makefile"))


@pytest.mark.parametrize("target", sorted(REQUIRED_TARGETS))
def test_make_accepts_every_required_target(default_product: Path, target: str) -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", target, "m=add comments", "PYTHON=python"],
        cwd=default_product,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.strip()


def test_make_revision_numbers_the_next_migration(default_product: Path) -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "revision", "m=add comments"],
        cwd=default_product,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert 'alembic revision --autogenerate --rev-id 0002 -m "add comments"' in dry_run.stdout


def test_make_revision_without_a_message_explains_itself(default_product: Path) -> None:
    result = subprocess.run(
        ["make", "revision"], cwd=default_product, capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode != 0
    assert 'make revision m="' in result.stderr


def test_make_run_leaves_logging_to_the_service(product: Product) -> None:
    run = " ".join(recipe(product.text("Makefile"), "run"))

    assert "uvicorn app.main:app" in run
    assert "--no-access-log" in run
    assert "--log-config" not in run


def test_make_install_installs_the_dev_extra_editable(product: Product) -> None:
    assert recipe(product.text("Makefile"), "install") == ['$(PYTHON) -m pip install -e ".[dev]"']


@pytest.mark.parametrize("name", VERBATIM_FILES)
def test_tool_files_are_baked_verbatim(product: Product, name: str) -> None:
    assert product.text(name) == (TEMPLATE_PROJECT / name).read_text(encoding="utf-8")


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


# Docker


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    @property
    def words(self) -> list[str]:
        if self.arguments.startswith("["):
            return list(json.loads(self.arguments))
        return shlex.split(self.arguments)

    @property
    def flags(self) -> list[str]:
        return [word for word in self.words if word.startswith("--")]

    @property
    def copy_sources(self) -> list[str]:
        return [word for word in self.words if not word.startswith("--")][:-1]


def dockerfile_stages(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage (continuation lines joined, comments dropped); ARGs before FROM first."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    stages: list[list[Instruction]] = [[]]
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), arguments.strip()))
    return stages


def instructions(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [instruction for instruction in stage if instruction.keyword == keyword]


def every_instruction(product: Product, *keywords: str) -> list[Instruction]:
    stages = dockerfile_stages(product.text("Dockerfile"))
    return [instruction for stage in stages for instruction in stage if instruction.keyword in keywords]


def context_sources(product: Product) -> list[str]:
    """What COPY and ADD take from the build context (not from another stage)."""
    copies = every_instruction(product, "COPY", "ADD")
    return [
        source
        for copy in copies
        if not any(flag.startswith("--from") for flag in copy.flags)
        for source in copy.copy_sources
    ]


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Validate `path` with one of check-jsonschema's vendored schemas: offline, no download."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def final_stage(product: Product) -> list[Instruction]:
    return dockerfile_stages(product.text("Dockerfile"))[-1]


def test_dockerfile_builds_in_one_stage_and_runs_from_a_slim_one(product: Product) -> None:
    global_args, *stages = dockerfile_stages(product.text("Dockerfile"))
    (version_arg,) = instructions(global_args, "ARG")

    assert len(stages) >= 2
    assert version_arg.arguments == f"PYTHON_VERSION={product.answers.python_version}"
    assert all(stage[0].words[0] == "python:${PYTHON_VERSION}-slim" for stage in stages)
    copies_from_builder = [copy for copy in instructions(stages[-1], "COPY") if "--from=builder" in copy.flags]
    assert [copy.words[-1] for copy in copies_from_builder] == ["/opt/venv"]


def test_final_stage_runs_as_a_non_root_user(product: Product) -> None:
    users = instructions(final_stage(product), "USER")

    assert users
    user = users[-1].arguments.split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_copies_no_env_file_and_not_the_whole_context(product: Product) -> None:
    sources = context_sources(product)

    assert sources
    assert not [source for source in sources if ".env" in source or source in {".", "./", "*"}]


def test_dockerfile_installs_the_versions_uv_lock_pins_when_it_exists(product: Product) -> None:
    runs = " ".join(run.arguments for run in every_instruction(product, "RUN"))

    assert "uv.lock*" in context_sources(product)
    assert "if [ -f uv.lock ]" in runs
    assert "uv export --frozen --no-dev --no-emit-project" in runs


def test_dockerfile_installs_no_dev_dependencies(product: Product) -> None:
    runs = " ".join(run.arguments for run in every_instruction(product, "RUN"))

    assert "pip install" in runs
    assert not [tool for tool in DEV_TOOLS if tool in runs]


def test_final_stage_checks_liveness_and_serves_json_logs_on_8000(product: Product) -> None:
    stage = final_stage(product)
    (healthcheck,) = instructions(stage, "HEALTHCHECK")
    environment = " ".join(env.arguments for env in instructions(stage, "ENV"))

    assert "/health/live" in healthcheck.arguments
    assert "curl" not in healthcheck.arguments
    assert [expose.arguments for expose in instructions(stage, "EXPOSE")] == ["8000"]
    assert "ENVIRONMENT=production" in environment
    assert "LOG_FORMAT=json" in environment
    assert instructions(stage, "ENTRYPOINT")[-1].words == ["/app/docker-entrypoint.sh"]
    assert instructions(stage, "CMD")[-1].words == ["serve"]


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(re-include?, pattern) per line, with Docker's glob rules: `*` stays in a folder, `**` crosses them."""
    rules = []
    for line in text.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").strip("/")
        regex = ""
        index = 0
        while index < len(glob):
            if glob.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif glob.startswith("**", index):
                regex, index = regex + ".*", index + 2
            else:
                char = glob[index]
                regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
                index += 1
        rules.append((negated, re.compile(regex)))
    return rules


def dockerignore_excludes(text: str, path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last rule matching it or a parent folder wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
    excluded = False
    for negated, pattern in dockerignore_rules(text):
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_every_env_file_out_of_the_build(product: Product) -> None:
    dockerignore = product.text(".dockerignore")
    env_files = [path.name for path in product.path.glob(".env*")]

    assert ".env" in env_files
    for path in [*env_files, ".env.local", "app/.env", "migrations/.env.production"]:
        assert dockerignore_excludes(dockerignore, path), path


def test_dockerignore_lets_through_everything_the_dockerfile_copies(product: Product) -> None:
    dockerignore = product.text(".dockerignore")

    for source in context_sources(product):
        if source.endswith("*"):  # an optional file, such as uv.lock*
            assert not dockerignore_excludes(dockerignore, source.rstrip("*")), source
            continue
        files = [product.path / source] if (product.path / source).is_file() else (product.path / source).rglob("*.py")
        names = [path.relative_to(product.path).as_posix() for path in files]
        assert names, source
        assert not [name for name in names if dockerignore_excludes(dockerignore, name)], source
    assert dockerignore_excludes(dockerignore, "app/__pycache__/main.cpython-311.pyc")
    assert dockerignore_excludes(dockerignore, "tests/conftest.py")


# The entry point, run with stand-ins that print how they were called.


@pytest.fixture(scope="module")
def entrypoint(default_product: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    fake_bin = tmp_path_factory.mktemp("fake-bin")
    for tool in ("uvicorn", "alembic"):
        stand_in = fake_bin / tool
        stand_in.write_text(f'#!/bin/sh\necho {tool} "$@"\n', encoding="utf-8")
        stand_in.chmod(0o755)

    def run(*args: str, **env: str) -> str:
        environment = {"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}", **env}
        result = subprocess.run(
            [str(default_product / "docker-entrypoint.sh"), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout.strip()

    return run


def test_entrypoint_is_executable(default_product: Path) -> None:
    assert (default_product / "docker-entrypoint.sh").stat().st_mode & stat.S_IXUSR


def test_entrypoint_serves_by_default_with_web_concurrency_workers(entrypoint: Callable[..., str]) -> None:
    command = entrypoint(WEB_CONCURRENCY="3").split()

    assert command[:2] == ["uvicorn", "app.main:app"]
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--port") + 1] == "8000"
    assert "--no-access-log" in command
    assert "--log-config" not in command


def test_entrypoint_serves_one_worker_per_cpu_when_web_concurrency_is_unset(entrypoint: Callable[..., str]) -> None:
    command = entrypoint("serve").split()

    assert command[command.index("--workers") + 1] == entrypoint("workers")
    assert 1 <= int(entrypoint("workers")) <= len(os.sched_getaffinity(0))


def test_entrypoint_gives_requests_in_flight_a_bounded_grace_period(entrypoint: Callable[..., str]) -> None:
    default = entrypoint("serve").split()
    configured = entrypoint("serve", GRACEFUL_SHUTDOWN_SECONDS="7").split()

    assert default[default.index("--timeout-graceful-shutdown") + 1] == "15"
    assert configured[configured.index("--timeout-graceful-shutdown") + 1] == "7"


def test_entrypoint_migrate_upgrades_to_head(entrypoint: Callable[..., str]) -> None:
    assert entrypoint("migrate") == "alembic upgrade head"


def test_entrypoint_runs_any_other_command(entrypoint: Callable[..., str]) -> None:
    assert entrypoint("alembic", "current") == "alembic current"


# docker compose


def test_compose_wires_database_migrations_and_service(product: Product) -> None:
    services = product.yaml("docker-compose.yml")["services"]
    db, migrate, app = services["db"], services["migrate"], services["app"]

    assert set(services) == {"db", "migrate", "app"}
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert migrate["build"] == app["build"] == "."


def test_compose_points_the_service_at_the_database_service(product: Product) -> None:
    services = product.yaml("docker-compose.yml")["services"]

    for name in ("migrate", "app"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://"), name
        assert "@db:5432/" in url, name


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


# README


def settings_fields(config: Path) -> list[str]:
    """The environment variables Settings reads: its annotated upper-case attributes."""
    tree = ast.parse(config.read_text(encoding="utf-8"))
    (settings,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings"]
    return [
        node.target.id
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id.isupper()
    ]


def test_readme_documents_every_setting(product: Product) -> None:
    readme = product.text("README.md")
    fields = settings_fields(product.path / "app" / "core" / "config.py")

    assert len(fields) > 20
    assert not [name for name in fields if f"`{name}`" not in readme]


def test_readme_names_the_project_as_answered(product: Product) -> None:
    readme = product.text("README.md")
    name = product.answers.values.get("project_name", "My Service")

    assert readme.splitlines()[0] == f"# {name}"
    assert "{{ cookiecutter" not in readme
    assert "{%" not in readme


def test_readme_shows_real_error_envelopes(product: Product) -> None:
    examples = [json.loads(block) for block in JSON_BLOCK.findall(product.text("README.md"))]
    by_code = {example["error"]: example for example in examples}

    assert {"NOT_FOUND", "VALIDATION_ERROR", "CONFLICT_ERROR", "INTERNAL_ERROR"} <= set(by_code)
    for example in examples:
        assert {"error", "message", "details", "request_id"} <= set(example)
    assert "event_id" in by_code["INTERNAL_ERROR"]
    assert "event_id" not in by_code["NOT_FOUND"]


def test_readme_documents_pip_and_uv_setups(product: Product) -> None:
    readme = product.text("README.md")

    assert 'pip install -e ".[dev]"' in readme
    assert "uv sync --extra dev" in readme
    assert "alembic upgrade head && uvicorn app.main:app" in readme

"""The baked Docker files, checked statically (no Docker engine here), and the entry point run with stand-ins."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.product.baked import DEV_TOOLS, Product

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
    worker = product.answers.values.get("include_worker") == "yes"

    assert set(services) == {"db", "migrate", "app"} | ({"redis", "worker", "scheduler"} if worker else set())
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    } | ({"redis": {"condition": "service_healthy"}} if worker else {})
    assert migrate["build"] == app["build"] == "."


def test_compose_points_the_service_at_the_database_service(product: Product) -> None:
    services = product.yaml("docker-compose.yml")["services"]

    for name in ("migrate", "app"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://"), name
        assert "@db:5432/" in url, name


def test_compose_publishes_every_port_on_the_loopback_address_only(product: Product) -> None:
    services = product.yaml("docker-compose.yml")["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]

    assert len(published) == (3 if product.answers.values.get("include_worker") == "yes" else 2)
    assert all(port.startswith("127.0.0.1:") for port in published), published


def test_compose_runs_one_worker_and_one_scheduler_on_the_redis_service(worker_product: Product) -> None:
    services = worker_product.yaml("docker-compose.yml")["services"]

    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    assert "--appendonly" in services["redis"]["command"]
    assert (services["worker"]["command"], services["scheduler"]["command"]) == (["worker"], ["scheduler"])
    for name in ("app", "worker", "scheduler"):
        assert services[name]["environment"]["BROKER_URL"] == "redis://redis:6379/0", name
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    assert "replicas" not in services["scheduler"].get("deploy", {})
    assert services["worker"]["stop_grace_period"] == "20s"

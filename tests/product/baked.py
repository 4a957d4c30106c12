"""What the product tests share: the matrix of bakes, a baked project as a product, and small readers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# Files whose only template syntax is the include_worker switch: baked as written, so their own tools can update them.
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
    "worker": Answers({"include_worker": "yes"}),
}


@dataclass(frozen=True)
class Product:
    answers: Answers
    path: Path

    def text(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    def yaml(self, name: str) -> Any:
        return yaml.safe_load(self.text(name))


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

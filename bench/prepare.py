"""Bake the template, and build the two venvs the benchmark runs in, each cached by what it is made from.

- the harness venv: cookiecutter (to bake) and matplotlib (to draw the chart); nothing the service imports;
- the service venv: the baked project's dependencies, resolved by uv from its pyproject.toml. The bare app runs
  from the same venv, so both sides use the same FastAPI, Starlette, uvicorn, uvloop and httptools.

Everything lives in the template's cache folder (``tests/support/harness.py``); a lock file keeps two runs from
building the same venv at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.harness import build_venv, cache_dir, cache_lock

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
SLUG_DIR = "{{cookiecutter.project_slug}}"
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", SLUG_DIR)
HARNESS_PACKAGES = ("cookiecutter>=2.6", "matplotlib>=3.8")
_SKIP = {"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache", ".venv"}
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _files(root: Path) -> Iterator[Path]:
    for part in TEMPLATE_PARTS:
        path = root / part
        if path.is_file():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            if child.is_file() and not _SKIP.intersection(child.relative_to(root).parts):
                yield child


def digest(*chunks: bytes) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(hashlib.sha256(chunk).digest())
    return hasher.hexdigest()[:16]


def template_digest(patches: list[Path]) -> str:
    chunks: list[bytes] = []
    for path in _files(TEMPLATE_DIR):
        chunks += [str(path.relative_to(TEMPLATE_DIR)).encode(), path.read_bytes()]
    chunks += [patch.read_bytes() for patch in patches]
    return digest(*chunks)


def run(command: list[str], **kwargs: object) -> None:
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(path: Path, requirements: list[str]) -> Path:
    """A venv at ``path`` holding ``requirements`` (pip-style lines or ``-r file``); built once, then reused."""
    ready = path / ".bench-ready"
    with cache_lock(path.name):
        if not ready.exists():
            build_venv(path, requirements, what=f"building {path.name}")
            ready.write_text("ok\n")
    return path / "bin" / "python"


def harness_python() -> Path:
    return ensure_venv(cache_dir() / f"bench-harness-py{PYTHON}", list(HARNESS_PACKAGES))


def template_with(patches: list[Path], key: str) -> Path:
    """The template itself, or a copy of it with ``patches`` applied (``git apply``, paths from the repo root)."""
    if not patches:
        return TEMPLATE_DIR
    copy = cache_dir() / "templates" / key
    if (copy / ".bench-ready").exists():
        return copy
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for part in TEMPLATE_PARTS:
        source = TEMPLATE_DIR / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns(*_SKIP))
        else:
            shutil.copy2(source, copy / part)
    for patch in patches:
        run(["git", "apply", str(patch.resolve())], cwd=copy)
    (copy / ".bench-ready").write_text("ok\n")
    return copy


def bake(patches: list[Path] | None = None) -> Path:
    """Bake the template (with ``patches``) with its default answers; cached by the template's content."""
    patches = patches or []
    key = template_digest(patches)
    out = cache_dir() / "bakes" / key
    with cache_lock(f"bake-{key}"):
        ready = out / ".bench-ready"
        if not ready.exists():
            template = template_with(patches, key)
            shutil.rmtree(out, ignore_errors=True)
            home = out / "home"
            home.mkdir(parents=True)
            config = out / "cookiecutter.yaml"
            config.write_text(f'replay_dir: "{home / "replay"}"\ncookiecutters_dir: "{home / "cc"}"\n')
            env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_DSN")}
            env |= {"HOME": str(home), "COOKIECUTTER_CONFIG": str(config)}
            run(
                [str(harness_python()), "-m", "cookiecutter", str(template), "--no-input", "--output-dir", str(out)],
                env=env,
                capture_output=True,
                timeout=120,
            )
            ready.write_text("ok\n")
    projects = [p for p in out.iterdir() if p.is_dir() and p.name != "home"]
    if len(projects) != 1:
        raise SystemExit(f"expected one baked project in {out}, found {projects}")
    return projects[0]


def service_python(project: Path) -> Path:
    """A venv with the baked project's dependencies (not the project itself: uvicorn imports it from its folder)."""
    pyproject = project / "pyproject.toml"
    key = digest(pyproject.read_bytes().split(b"[project.optional-dependencies]")[0])
    return ensure_venv(cache_dir() / f"bench-service-py{PYTHON}-{key}", ["-r", str(pyproject)])

"""Bake the template, and build the two venvs the benchmark runs in, each cached by what it is made from.

- the harness venv: matplotlib (to draw the chart); nothing the service imports. The template is baked by the
  same code as the template's tests (tests/support/baking.py);
- the service venv: the baked project's dependencies, resolved by uv from its pyproject.toml. The bare app runs
  from the same venv, so both sides use the same FastAPI, Starlette, uvicorn, uvloop and httptools.

Everything lives in the template's cache folder (``tests/support/harness.py``); a lock file keeps two runs from
building the same venv at once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.baking import run_bake
from tests.support.harness import build_venv, cache_dir, cache_lock, clean_environment, uv_command

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
SLUG_DIR = "{{cookiecutter.project_slug}}"
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", SLUG_DIR)
HARNESS_PACKAGES = ("matplotlib>=3.8",)
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


def bake(patches: list[Path] | None = None, answers: dict[str, str] | None = None) -> Path:
    """Bake the template (with ``patches``) with its default answers, or these ``answers`` instead; cached by the
    template's content and the answers."""
    patches = patches or []
    answers = answers or {}
    key = template_digest(patches)
    if answers:
        key = digest(key.encode(), *(f"{name}={value}".encode() for name, value in sorted(answers.items())))
    out = cache_dir() / "bakes" / key
    ready = out / ".bench-ready"
    with cache_lock(f"bake-{key}"):
        if not ready.exists():
            template = template_with(patches, key)
            shutil.rmtree(out, ignore_errors=True)
            project = run_bake(out, template=str(template), **answers).project
            ready.write_text(str(project.relative_to(out)))
    return out / ready.read_text().strip()


def service_python(project: Path, sentry_sdk: str | None = None) -> Path:
    """A venv with the baked project's dependencies (not the project itself: uvicorn imports it from its folder);
    with ``sentry_sdk``, that version of the SDK in place of the one the project's pin chose."""
    pyproject = project / "pyproject.toml"
    key = digest(pyproject.read_bytes().split(b"[project.optional-dependencies]")[0])
    if sentry_sdk is None:
        return ensure_venv(cache_dir() / f"bench-service-py{PYTHON}-{key}", ["-r", str(pyproject)])
    path = cache_dir() / f"bench-service-py{PYTHON}-{key}-sentry-sdk-{sentry_sdk}"
    ready = path / ".bench-ready"
    with cache_lock(path.name):
        if not ready.exists():
            python = build_venv(path, ["-r", str(pyproject)], what=f"building {path.name}")
            replace_sentry_sdk(python, sentry_sdk)
            ready.write_text("ok\n")
    return path / "bin" / "python"


def replace_sentry_sdk(python: Path, version: str) -> None:
    """Install sentry-sdk ``version`` (a pre-release too) and nothing else: the rest stays as the pin resolved it,
    as a pin change would leave it (a pre-release resolution would also take httpx 1.0's betas)."""
    spec = f"sentry-sdk=={version}"
    uv = uv_command()
    if uv:
        command = [*uv, "pip", "install", "--quiet", "--no-deps", "--prerelease=allow", "--python", str(python), spec]
    else:
        command = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--pre", spec]
    run(command, env=clean_environment())

"""The service's shape, read from its code: layers one way, Sentry behind one door, small documented files."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
# Every folder of Python code that the project's own tools check (mypy's `files`).
SOURCE_FOLDERS = ("app", "tests", "migrations", "scripts")
# From the bottom up: a module may import its own layer and the layers below it, never one above.
{% if cookiecutter.include_worker == "yes" -%}
LAYERS = (
    "core", "exceptions", "db", "models", "schemas", "clients", "worker", "services", "middleware", "api", "main",
)  # fmt: skip
{% else -%}
LAYERS = ("core", "exceptions", "db", "models", "schemas", "clients", "services", "middleware", "api", "main")
{% endif -%}
SENTRY_DOOR = "app.core.sentry"
# What stands behind the door: only the door imports these.
SENTRY_PARTS = frozenset(
    {
        "app.core.sentry_scope",
        "app.core.sentry_websocket",
        "app.core.sentry_tasks",
        "app.core.sentry_lifespan",
        "app.core.sql_tracing",
        "app.core.error_events",
        "app.core.error_limiter",
        "app.core.source_context",
        "app.core.sentry_transport",
        "app.core.event_scrubbing",
        "app.core.breadcrumbs",
{%- if cookiecutter.include_worker == "yes" %}
        "app.core._sentry",
        "app.core._sentry.jobs",
        "app.core._sentry.crons",
{%- endif %}
    }
)
# A file a newcomer opens should fit on a few screens. Every line counts, blank ones too.
MAX_LINES = 200


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the service as (dotted name, path)."""
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        if parts == ("app", "__init__"):
            continue  # the package itself: empty, in no layer
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def source_files() -> Iterator[Path]:
    """Every Python file of the project: the service, its tests, its migrations and its scripts."""
    for folder in SOURCE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """The modules of the service (``app.…``) and of sentry-sdk that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from app.core import sentry` imports the module app.core.sentry
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module in PACKAGES)
    return {name for name in found if name.split(".")[0] in {"app", "sentry_sdk"}}


PACKAGES = frozenset({"app"} | {name for name, path in modules() if path.name == "__init__.py"})


def layer(module: str) -> str:
    return module.split(".")[1]


def layer_imports() -> dict[str, set[str]]:
    """For each layer, the other layers its modules import."""
    graph: dict[str, set[str]] = {name: set() for name in LAYERS}
    for module, path in modules():
        for imported in imports(path):
            if imported.startswith("app.") and layer(imported) != layer(module):
                graph[layer(module)].add(layer(imported))
    return graph


def render_layers() -> str:
    """The layers from the top down, each with its modules and the layers it imports (docs/architecture.md)."""
    graph = layer_imports()
    lines = []
    for name in reversed(LAYERS):
        members = [
            module.removeprefix(f"app.{name}").lstrip(".") or f"{name}.py" if path.name != "__init__.py" else "__init__"
            for module, path in modules()
            if layer(module) == name and path.stat().st_size
        ]
        below = ", ".join(sorted(graph[name], key=LAYERS.index, reverse=True)) or "nothing"
        lines += textwrap.wrap(" ".join(members), width=100, initial_indent=f"{name:<12}", subsequent_indent=" " * 12)
        lines.append(f"{'':<12}-> {below}")
    door = sorted(
        name.removeprefix("app.core.") for name in imports(dict(modules())[SENTRY_DOOR]) if name.startswith("app.")
    )
    users = sorted(module.removeprefix("app.") for module, path in modules() if SENTRY_DOOR in imports(path))
    lines += ["", f"{SENTRY_DOOR} uses {', '.join(door)}", f"{SENTRY_DOOR} is used by {', '.join(users)}"]
    return "\n".join(lines)


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = {
        module: sorted(
            name
            for name in imports(path)
            if name.startswith("app.") and LAYERS.index(layer(name)) > LAYERS.index(layer(module))
        )
        for module, path in modules()
    }
    assert {module: names for module, names in upward.items() if names} == {}


def test_only_the_sentry_front_door_imports_the_parts_behind_it() -> None:
    """The parts may share with each other (a WebSocket's scope renders its handshake as a request's does)."""
    trespassers = {
        module: sorted(imports(path) & SENTRY_PARTS)
        for module, path in modules()
        if module != SENTRY_DOOR and module not in SENTRY_PARTS and imports(path) & SENTRY_PARTS
    }
    assert trespassers == {}


@pytest.mark.parametrize("package", ["app.db", "app.middleware"])
def test_database_and_middleware_know_nothing_of_sentry_internals(package: str) -> None:
    """They may use the front door; never sentry-sdk itself or the parts behind the door."""
    internal = {
        module: sorted(name for name in imports(path) if name.startswith("sentry_sdk") or name in SENTRY_PARTS)
        for module, path in modules()
        if module.startswith(package)
    }
    assert {module: names for module, names in internal.items() if names} == {}


def test_no_file_is_longer_than_200_lines() -> None:
    """A file that needs more holds more than one concern: split it, one concern per file."""
    sizes = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines()) for path in source_files()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_every_file_says_its_one_job_in_its_docstring() -> None:
    """A first line that is a sentence; an empty ``__init__.py`` only marks a package and needs none.

    Migrations are left out: alembic writes their docstring from the message given to ``alembic revision``.
    """
    missing = []
    for path in source_files():
        source = path.read_text(encoding="utf-8")
        if not source.strip() or path.parent == ROOT / "migrations" / "versions":
            continue
        docstring = ast.get_docstring(ast.parse(source)) or ""
        summary = docstring.split("\n\n")[0].strip()
        if not summary.endswith("."):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer(module) for module, _ in modules()} <= set(LAYERS)

"""The service's shape, read from its code: layers one way, `_` parts behind their doors, small documented files."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
# The one door a `_` package has besides its own modules: app/core/sentry.py, in front of app/core/_sentry/.
DOORS = {"app.core._sentry": SENTRY_DOOR}
# Tests here may reach behind the doors, to test the parts on their own; every other module may not.
PLATFORM_TESTS = "tests.platform"
# A file a newcomer opens should fit on a few screens. Every line counts, blank ones too.
MAX_LINES = 200


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the service as (dotted name, path)."""
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        if parts == ("app", "__init__"):
            continue  # the package itself: empty, in no layer
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def dotted(path: Path) -> str:
    """A source file's module name: ``tests/platform/conftest.py`` -> ``tests.platform.conftest``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


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
            found.update(name for alias in node.names if (name := f"{node.module}.{alias.name}") in MODULES)
    return {name for name in found if name.split(".")[0] in {"app", "sentry_sdk"}}


PACKAGES = frozenset({"app"} | {name for name, path in modules() if path.name == "__init__.py"})
MODULES = frozenset(name for name, _ in modules())


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
            module.removeprefix(f"app.{name}").lstrip(".")
            or (f"{name}.py" if path.name != "__init__.py" else "__init__")
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


def behind(imported: str) -> tuple[str, str] | None:
    """The innermost ``_`` part of a module's path and the package whose modules alone may import it: the part
    itself for a ``_`` package, the package holding it for a ``_`` module; None for a module before every door."""
    parts = imported.split(".")
    private = [index for index, part in enumerate(parts) if part.startswith("_") and not part.startswith("__")]
    if not private:
        return None
    part = ".".join(parts[: private[-1] + 1])
    return part, part if part in PACKAGES else part.rpartition(".")[0]


def trespasses(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """For each module, what it imports from behind a door it stands outside of (``graph``: module -> imports)."""
    found: dict[str, list[str]] = {}
    for module, imported in graph.items():
        if module == PLATFORM_TESTS or module.startswith(f"{PLATFORM_TESTS}."):
            continue
        for name in sorted(imported):
            part, package = behind(name) or ("", "")
            if part and module != package and not module.startswith(f"{package}.") and DOORS.get(part) != module:
                found.setdefault(module, []).append(name)
    return found


def test_nothing_imports_a_private_part_from_outside_its_package() -> None:
    """A ``_`` module is imported by its package's modules, a ``_`` package by its own (and by its door, for
    ``app/core/_sentry/``): one rule, which covers every part added later without a list to keep."""
    assert trespasses({dotted(path): imports(path) for path in source_files()}) == {}


@pytest.mark.parametrize(
    ("module", "imported", "trespass"),
    [
        ("app.api.routes.planted", "app.core._sentry.http", True),
        ("app.core.logging", "app.core._sentry.capture", True),
        ("app.core.sentry", "app.core._sentry._asgi", True),  # the door opens _sentry/, not what _sentry/ keeps
        ("app.main", "app.core.redaction._names", True),
        ("tests.features.test_planted", "app.core.redaction._values", True),
        ("tests.conftest", "app.core._sentry.limiter", True),
        ("app.core.sentry", "app.core._sentry.http", False),
        ("app.core._sentry.http", "app.core._sentry._asgi", False),
        ("app.core.redaction", "app.core.redaction._names", False),
        ("tests.platform.redaction.test_planted", "app.core.redaction._text", False),
    ],
)
def test_the_rule_finds_a_planted_trespass(module: str, imported: str, *, trespass: bool) -> None:
    graph = {dotted(path): imports(path) for path in source_files()} | {module: {imported}}
    assert trespasses(graph) == ({module: [imported]} if trespass else {})


@pytest.mark.parametrize("package", ["app.db", "app.middleware"{{ ', "app.worker"' if cookiecutter.include_worker == "yes" }}])
def test_database_middleware_and_worker_use_sentry_through_its_door(package: str) -> None:
    """They may use the front door; never sentry-sdk itself."""
    internal = {
        module: sorted(name for name in imports(path) if name.startswith("sentry_sdk"))
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

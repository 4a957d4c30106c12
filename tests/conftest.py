"""Template-level fixtures: `bake` (see tests/support/baking.py) and `render_hook`, which renders a hook as
cookiecutter would and imports it, for unit tests.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.baking import HOOKS_DIR, TEMPLATE_DIR, Baked, default_answers, run_bake


def load_hook(name: str, where: Path, **answers: str) -> ModuleType:
    """Render hooks/<name>.py as cookiecutter does (same Jinja environment) and import it without running main()."""
    from cookiecutter.utils import create_env_with_context

    context = {"cookiecutter": {**default_answers(), "_repo_dir": str(TEMPLATE_DIR), **answers}}
    jinja = create_env_with_context(context)
    source = jinja.from_string((HOOKS_DIR / f"{name}.py").read_text(encoding="utf-8")).render(**context)
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"rendered_{name}_{abs(hash(where))}", path)
    if spec is None or spec.loader is None:
        pytest.fail(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bake() -> Callable[..., Baked]:
    """`bake(workdir, **answers) -> Baked`: see `run_bake`. Session-scoped so fixtures of any scope can use it."""
    return run_bake


@pytest.fixture(scope="session")
def render_hook() -> Callable[..., ModuleType]:
    """`render_hook(name, where, **answers) -> module`: see `load_hook`."""
    return load_hook

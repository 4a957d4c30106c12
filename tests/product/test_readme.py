"""The baked README: every setting documented, the project named as answered, real envelopes, both setups."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from tests.product.baked import JSON_BLOCK, Product

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


def test_readme_states_the_description_once(product: Product) -> None:
    readme = product.text("README.md")
    description = product.answers.values.get("project_description", "A FastAPI service with error tracking built in.")

    assert readme.count(description.rstrip(".")) == 1

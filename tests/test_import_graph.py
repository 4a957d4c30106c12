"""docs/architecture.md draws a bake's layers as they are: the picture is compared with the bake's own imports."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

from tests.support.baking import TEMPLATE_DIR, Baked

DOC = TEMPLATE_DIR / "docs" / "architecture.md"
DIAGRAM = re.compile(r"<!-- layers: begin -->\n```text\n(.*?)\n```\n<!-- layers: end -->", re.DOTALL)


def test_architecture_doc_draws_the_layers_of_a_default_bake(bake: Callable[..., Baked], tmp_path: Path) -> None:
    project = bake(tmp_path).project
    # The bake's architecture test reads imports with ast and the standard library only: no install needed.
    spec = importlib.util.spec_from_file_location(
        "baked_architecture", project / "tests" / "platform" / "test_architecture.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    drawn = DIAGRAM.search(DOC.read_text(encoding="utf-8"))

    assert drawn is not None, "docs/architecture.md lost its layers block"
    assert drawn.group(1) == module.render_layers()

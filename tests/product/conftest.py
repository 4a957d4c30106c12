"""The baked projects the product tests read: the whole matrix once per session, and a default bake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.product.baked import MATRIX, Product
from tests.support.baking import Baked

Bake = Callable[..., Baked]


@pytest.fixture(scope="session", params=list(MATRIX), ids=list(MATRIX))
def product(request: pytest.FixtureRequest, bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Product:
    answers = MATRIX[request.param]
    baked = bake(tmp_path_factory.mktemp(request.param), typed=answers.typed, **answers.values)
    return Product(answers, baked.project)


@pytest.fixture(scope="session")
def default_product(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default-only")).project


@pytest.fixture(scope="session")
def worker_product(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Product:
    answers = MATRIX["worker"]
    return Product(answers, bake(tmp_path_factory.mktemp("worker-only"), **answers.values).project)

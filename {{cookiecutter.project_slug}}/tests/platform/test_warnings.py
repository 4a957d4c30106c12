"""The suite fails on deprecation warnings from the libraries the service is built on (behaviour 9)."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest


def test_warnings_are_errors_in_this_suite() -> None:
    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "error" in config["tool"]["pytest"]["ini_options"]["filterwarnings"]
    with pytest.raises(DeprecationWarning):
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)

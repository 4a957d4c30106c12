"""Jinja filters that render cookiecutter answers as safe literals in generated files.

An answer is never pasted raw into source code: ``{{ cookiecutter.project_name | py_str }}`` becomes a
Python string literal and ``| toml_str`` a TOML basic string, whatever quotes, backslashes or
unicode the answer holds.
"""

from __future__ import annotations

from jinja2 import Environment
from jinja2.ext import Extension

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def py_str(value: object) -> str:
    """Render a value as a Python string literal, in double quotes where that needs no escape (as ruff formats)."""
    text = str(value)
    literal = repr(text)
    if literal.startswith("'") and '"' not in text and "'" not in text:
        literal = f'"{literal[1:-1]}"'
    return literal


def toml_str(value: object) -> str:
    """Render a value as a TOML basic string (control characters escaped, unicode kept)."""
    out = []
    for char in str(value):
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class SafeLiteralsExtension(Extension):
    """Registers the ``py_str`` and ``toml_str`` filters."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["py_str"] = py_str
        environment.filters["toml_str"] = toml_str

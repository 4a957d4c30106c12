"""The messages a 422 sends back, with the rejected input taken out: a client's value is never echoed.

Pydantic's own messages say what was expected, not what was sent; a validator's message is its author's text
(``ValueError(f"expected a live key, got {value}")``) and may quote the value, which can be a secret. Each piece of
text in the input (a string or number, or one inside a list or an object's values; keys are field names)
becomes ``[Filtered]`` wherever the message quotes it, except a value the message names as the rule
(``less than 10``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from app.core.redaction import FILTERED

# A piece this short is taken out only where it stands alone, not inside a word (the "a" of "a live key").
_SHORT = 4
# Bounds on the walk through an object's input (a model validator's input is the whole body).
_MAX_PIECES = 1000
_MAX_DEPTH = 20


def message_without_input(error: Mapping[str, Any]) -> str:
    """``error["msg"]`` of one pydantic error, with every piece of ``error["input"]`` it quotes replaced."""
    message = str(error.get("msg", ""))
    context = error.get("ctx") or {}
    rules = {str(value) for value in context.values() if not isinstance(value, BaseException)}
    pieces = {piece for piece in islice(_texts(error.get("input"), 0), _MAX_PIECES) if piece and piece not in rules}
    for piece in sorted(pieces, key=len, reverse=True):
        if piece not in message:
            continue
        if len(piece) >= _SHORT:
            message = message.replace(piece, FILTERED)
        else:
            message = re.sub(rf"(?<![A-Za-z0-9]){re.escape(piece)}(?![A-Za-z0-9])", FILTERED, message)
    return message


def _texts(value: Any, depth: int) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)
    elif depth < _MAX_DEPTH and isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item, depth + 1)

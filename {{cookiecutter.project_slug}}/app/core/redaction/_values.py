"""redact(value) and redact_text(text): any value walked (containers, keys, bytes, reprs), never raising."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID

from app.core.redaction._names import is_sensitive_key
from app.core.redaction._text import FILTERED, apply_value_rules, cap_text

# Deeper than any event or log field the service builds; anything below is replaced, not walked.
MAX_DEPTH = 40

# Values whose rendering cannot hold a secret a rule would find, kept as they are.
_PLAIN = (bool, int, float, Decimal, UUID, datetime, date, time, timedelta, Enum)


class ShortTextCache:
    """A rule over text whose results are kept for short texts, which repeat from request to request (header
    values, span descriptions, log fields, context values); longer texts are worked out each time."""

    MAX_LENGTH = 512

    def __init__(self, rule: Callable[[str], str], size: int = 4096) -> None:
        self._rule = rule
        self._cached = lru_cache(maxsize=size)(rule)

    def __call__(self, text: str) -> str:
        return self._cached(text) if len(text) <= self.MAX_LENGTH else self._rule(text)

    def clear(self) -> None:
        self._cached.cache_clear()


def redact_text(text: str) -> str:
    """Free text with every secret the value rules find replaced by ``[Filtered]``; each short text is redacted
    once (``ShortTextCache``, cleared by ``forget_texts``). A text over ``MAX_TEXT_LENGTH`` keeps its redacted head."""
    if len(text) < 5:  # noqa: PLR2004  ("pin=1" is the shortest secret a rule can find)
        return text
    return _redact_remembered(text)


def _redact_text(text: str) -> str:
    return apply_value_rules(cap_text(text))


_redact_remembered = ShortTextCache(_redact_text)


def forget_texts() -> None:
    """Drop the remembered results: the names the rules read have changed (``configure``)."""
    _redact_remembered.clear()


def redact(value: Any) -> Any:
    """A copy of ``value`` with sensitive keys' values and secrets in text replaced; never raises.

    Objects other than containers and plain values are kept when their repr holds no secret (so JSON renderers
    show them as before), else replaced by their redacted repr.
    """
    try:
        return _redact(value, 0)
    except Exception:  # a hostile __repr__, a mapping whose items() fails: drop the value, keep the rest
        return FILTERED


def _redact(value: Any, depth: int) -> Any:  # noqa: PLR0911  (one return per kind of value)
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, _PLAIN):
        return value
    if depth >= MAX_DEPTH:
        return FILTERED
    if isinstance(value, Mapping):
        return {
            _redact_key(key): FILTERED if is_sensitive_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        if isinstance(value, list | tuple) and len(value) == 2 and is_sensitive_key(value[0]):  # noqa: PLR2004
            return [value[0], FILTERED]  # a (name, value) pair, e.g. a header
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ costs this value only
        return FILTERED
    redacted = redact_text(text)
    return value if redacted == text else redacted


def _redact_key(key: Any) -> Any:
    if key is None or isinstance(key, str | int | float | bool):
        return key
    return _redact(key, MAX_DEPTH - 1)  # an object as a key: its (redacted) repr, or [Filtered]

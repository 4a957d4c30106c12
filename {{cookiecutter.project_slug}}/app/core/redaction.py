"""The service's one redaction policy: which names (``app.core.secret_names``) and which pieces of text are secrets.

Sentry events (``app.core.event_scrubbing``) and log lines (``app.core.log_redaction``) both go through these
rules, so there is one place to extend them: the ``REDACT_EXTRA_KEYS`` setting (see ``configure``). Nothing here
raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID

from app.core.secret_names import is_sensitive_key, set_extra_names

__all__ = ["FILTERED", "configure", "is_sensitive_key", "redact", "redact_text"]

FILTERED = "[Filtered]"
# Deeper than any event or log field the service builds; anything below is replaced, not walked.
MAX_DEPTH = 40

# Values whose rendering cannot hold a secret a rule would find, kept as they are.
_PLAIN = (bool, int, float, Decimal, UUID, datetime, date, time, timedelta, Enum)


# Values that are secrets whatever their key (Sentry's server-side families: @bearer, @urlauth, @pemkey, ...).
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_AUTH_SCHEME = re.compile(r"\b((?i:bearer)|Basic|Digest)(\s+)[A-Za-z0-9._~+/=-]{6,}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]+@")
# name=value, name: value, 'name': 'value', "name": "value" (query strings, reprs, JSON, connection strings). Found
# from each separator backwards (on the reversed text), so that names inside a value (a query string in a URL) are
# found too, and text without "=" or ":" costs nothing.
_SEPARATOR = re.compile(r"[=:]")
_NAME_BEFORE = re.compile(r"\s*['\"]?([A-Za-z0-9_.-]*[A-Za-z_])(?![A-Za-z0-9_.-])")
_VALUE_AFTER = re.compile(
    r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?:(?i:bearer|basic|digest|token)\s+)?[^\s&,;)}\]'"<>]+)"""
)
# A sensitive word followed by something that looks like a credential: "login failed for token abc123XYZ".
_LOOSE = re.compile(r"(?i)\b(password|passwd|passphrase|secret|token|api[_ -]?key|pin|otp)(\s+)(?=\S*\d)(\S{8,})")
_LOOSE_HINTS = ("pass", "secret", "token", "key", "pin", "otp")
# Driver texts that quote a bound value: asyncpg's "invalid input for query argument $1: 'value' (...)".
_QUERY_ARGUMENT = re.compile(r"(query argument \$\d+: )(?:'(?:[^'\\]|\\.)*'|\S+)")
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2  # noqa: PLR2004
        total += digit
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    """A Luhn-valid run of 13 to 19 digits standing on its own (not part of an id, a UUID or a version)."""
    text, start, found = match.string, match.start(), match.group()
    if start and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        return found
    # The run may have swallowed a following number ("4111 1111 1111 1111 2024"): try each group boundary.
    ends = [len(found), *(i for i in range(len(found) - 1, 0, -1) if found[i] in " -")]
    for end in ends:
        after = text[start + end : start + end + 1]
        if after and (after.isalnum() or after == "_"):
            continue
        digits = found[:end].replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):  # noqa: PLR2004
            return FILTERED + found[end:]
    return found


def _redact_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    reversed_text = text[::-1]
    size = len(text)
    for separator in _SEPARATOR.finditer(text):
        sep = separator.start()
        if sep < done:
            continue
        name = _NAME_BEFORE.match(reversed_text, size - sep)
        if name is None or not is_sensitive_key(name.group(1)[::-1]):
            continue
        value = _VALUE_AFTER.match(text, sep + 1)
        if value is None:
            continue
        raw = value.group().lstrip()
        quote = raw[0] if raw[0] in "'\"" and len(raw) > 1 else ""
        parts += (text[done : value.end() - len(raw)], quote, FILTERED, quote)
        done = value.end()
    return "".join((*parts, text[done:])) if parts else text


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


def configure(extra_keys: Iterable[str]) -> None:
    """Treat these names as sensitive too (the ``REDACT_EXTRA_KEYS`` setting), matched as words like the rest."""
    set_extra_names(extra_keys)
    _redact_remembered.clear()


def redact_text(text: str) -> str:
    """Free text with every secret the value rules find replaced by ``[Filtered]``; each short text is redacted
    once (``ShortTextCache``, cleared by ``configure``)."""
    if len(text) < 5:  # noqa: PLR2004  ("pin=1" is the shortest secret a rule can find)
        return text
    return _redact_remembered(text)


def _redact_text(text: str) -> str:
    """The value rules, each run only when a plain substring test says it could match (a few scans in C)."""
    if "PRIVATE KEY" in text:
        text = _PEM_KEY.sub(FILTERED, text)
    if "eyJ" in text:
        text = _JWT.sub(FILTERED, text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(rf"\1{FILTERED}:{FILTERED}@", text)
    if "argument $" in text:
        text = _QUERY_ARGUMENT.sub(rf"\1{FILTERED}", text)
    if "=" in text or ":" in text:
        text = _redact_pairs(text)
    lowered = text.lower()
    if "bearer" in lowered or "Basic" in text or "Digest" in text:
        text = _AUTH_SCHEME.sub(rf"\1\2{FILTERED}", text)
    if any(word in lowered for word in _LOOSE_HINTS):
        text = _LOOSE.sub(rf"\1\2{FILTERED}", text)
    return _CARD.sub(_card, text)


_redact_remembered = ShortTextCache(_redact_text)


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

"""Which names name a secret: keys, headers, parameters and variables, matched as words.

Part of the redaction policy (``app.core.redaction``, which the rest of the service imports).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from functools import lru_cache

# A name is split into lower-case words (snake, kebab, camel, Pascal: "X-ApiKey" -> x api key). It is sensitive
# when one of these words, or two-word phrases, appears anywhere in it...
_WORDS = """
    password passwd passphrase pwd secret secrets token tokens auth authorization authentication bearer jwt otp
    cookie cookies session sessionid credential credentials csrf csrftoken xsrf signature dsn apikey privatekey
    ssn cvv cvc iban
"""
_SENSITIVE_WORDS = frozenset(_WORDS.split())
_SENSITIVE_PHRASES = frozenset(
    {("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("subscription", "key")}
    | {("signing", "key"), ("encryption", "key"), ("master", "key"), ("card", "number"), ("credit", "card")}
    | {("connection", "string"), ("remote", "addr"), ("forwarded", "for"), ("real", "ip"), ("ip", "address")}
)
# ...or when the whole name is one of these words, too common to be secret inside a longer name: "status_code",
# "primary_key" and "pin_count" stay readable; "key", "code" (OAuth), "pin", "sig" and "pan" do not.
_AMBIGUOUS_WORDS = frozenset({"key", "code", "pin", "sig", "pan", "pass", "cvn"})
_extra_phrases: set[tuple[str, ...]] = set()

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def set_extra_names(extra_keys: Iterable[str]) -> None:
    """Treat these names as sensitive too (the ``REDACT_EXTRA_KEYS`` setting), matched as words like the rest."""
    _extra_phrases.clear()
    _extra_phrases.update(words for words in (split_words(key) for key in extra_keys) if words)
    _is_sensitive_name.cache_clear()


def split_words(name: str) -> tuple[str, ...]:
    """``"X-ApiKey"`` -> ``("x", "api", "key")``; ``"access_token"`` -> ``("access", "token")``."""
    return tuple(word.lower() for word in _WORD.findall(name))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


@lru_cache(maxsize=4096)
def _is_sensitive_name(name: str) -> bool:
    words = split_words(name)
    if not words:
        return False
    if len(words) == 1 and words[0] in _AMBIGUOUS_WORDS:
        return True
    if any(word in _SENSITIVE_WORDS for word in words):
        return True
    pairs = set(itertools.pairwise(words))
    if pairs & _SENSITIVE_PHRASES:
        return True
    return any(_contains(words, phrase) for phrase in _extra_phrases)


def is_sensitive_key(key: object) -> bool:
    """Whether a mapping key, header, parameter or variable name names a secret."""
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    if not isinstance(key, str) or len(key) > 200:  # noqa: PLR2004  (no real name is longer)
        return False
    if key[:2] in ("b'", 'b"'):  # bytes as the SDK serializes them, e.g. ASGI header names
        key = key[2:-1]
    return _is_sensitive_name(key)

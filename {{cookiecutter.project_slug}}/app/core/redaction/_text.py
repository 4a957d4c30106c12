"""Secrets by their shape in free text: the value rules of the redaction policy (``app.core.redaction``).

Part of the policy; the rest of the service imports ``app.core.redaction``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from app.core.redaction import _token_shapes
from app.core.redaction._names import is_sensitive_key

FILTERED = "[Filtered]"
# No rule reads further into one text than this: the rest of a longer text is cut, never passed on unread.
MAX_TEXT_LENGTH = 65_536


# Values that are secrets whatever their key (Sentry's server-side families: @bearer, @urlauth, @pemkey, ...).
# Every rule is linear in its text: a match starts only where a run of its characters starts (a lookbehind, not
# ``\b``, which also fires inside runs such as ``a.a.a``), and repeats are possessive (``*+``, ``++``) or bounded,
# so no rule backtracks over what it has read. tests/platform/redaction/test_hostile_input.py holds
# each rule to that.
_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----.*?(?:-----END [A-Z ]{0,40}PRIVATE KEY-----|\Z)", re.DOTALL
)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+")
_AUTH_SCHEME = re.compile(r"\b((?i:bearer)|Basic|Digest)(\s++)[A-Za-z0-9._~+/=-]{6,}+")
_URL_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,40}+://)[^\s/?#@'\"<>]++@")
# name=value, name: value, 'name': 'value', "name": "value" (query strings, reprs, JSON, connection strings). Found
# from each separator backwards (on the reversed text), so that names inside a value (a query string in a URL) are
# found too, and text without "=" or ":" costs nothing. A name is percent-decoded (form encoding: "+" is a space)
# before the name rules read it, so that "api%5Fkey=" is "api_key=".
_SEPARATOR = re.compile(r"[=:]")
_NAME_BEFORE = re.compile(r"\s*+['\"]?+([A-Za-z0-9_.%+-]*+)(?<=[A-Za-z_%])")
_VALUE_AFTER = re.compile(
    r"""\s*+(?:'(?:[^'\\]++|\\.)*+'|"(?:[^"\\]++|\\.)*+"|(?:(?i:bearer|basic|digest|token)\s++)?[^\s&,;)}\]'"<>]++)"""
)
# A sensitive word followed by something that looks like a credential: "login failed for token abc123XYZ".
_LOOSE = re.compile(
    r"(?i)\b(password|passwd|passphrase|secret|token|api[_ -]?key|pin|otp)(\s++)(?=[^\s\d]*+\d)(\S{8,}+)"
)
_LOOSE_HINTS = ("pass", "secret", "token", "key", "pin", "otp")
# Driver texts that quote a bound value: asyncpg's "invalid input for query argument $1: 'value' (...)".
_QUERY_ARGUMENT = re.compile(r"(query argument \$\d++: )(?:'(?:[^'\\]++|\\.)*+'|\S++)")
# PostgreSQL's texts that quote a value: a value that cannot be parsed, and the DETAIL of a constraint violation
# (the key of a unique violation, the whole row of a NOT NULL or CHECK violation). The value always goes, whatever
# its column: such a column often holds an e-mail address or a key, and its name says enough to debug.
_INVALID_INPUT = re.compile(
    r"""(invalid input (?:syntax|value) for (?:type|enum) [^:\n]{1,80}+: |invalid UUID )"""
    r"""(?:"(?:[^"\\]++|\\.)*+"|'(?:[^'\\]++|\\.)*+')"""
)
_PARENTHESIZED = r"(?:[^()]++|\([^()]*+\))*+"
_QUOTED_ROW = re.compile(rf"(Key \({_PARENTHESIZED}\)=\(|Failing row contains \(){_PARENTHESIZED}(\))")
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
        if name is None or not is_sensitive_key(_decoded(name.group(1)[::-1])):
            continue
        value = _VALUE_AFTER.match(text, sep + 1)
        if value is None:
            continue
        raw = value.group().lstrip()
        quote = raw[0] if raw[0] in "'\"" and len(raw) > 1 else ""
        parts += (text[done : value.end() - len(raw)], quote, FILTERED, quote)
        done = value.end()
    return "".join((*parts, text[done:])) if parts else text


def _decoded(name: str) -> str:
    return unquote_plus(name) if "%" in name or "+" in name else name


def cap_text(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """The first ``limit`` characters of a text, and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters cut]"


def apply_value_rules(text: str) -> str:
    """The value rules, each run only when a plain substring test says it could match (a few scans in C)."""
    if "PRIVATE KEY" in text:
        text = _PEM_KEY.sub(FILTERED, text)
    if "eyJ" in text:
        text = _JWT.sub(FILTERED, text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(rf"\1{FILTERED}:{FILTERED}@", text)
    if "argument $" in text:
        text = _QUERY_ARGUMENT.sub(rf"\1{FILTERED}", text)
    if "invalid " in text:
        text = _INVALID_INPUT.sub(rf"\1{FILTERED}", text)
    if "Key (" in text or "Failing row" in text:
        text = _QUOTED_ROW.sub(rf"\1{FILTERED}\2", text)
    if any(hint in text for hint in _token_shapes.HINTS):
        text = _token_shapes.TOKEN.sub(FILTERED, text)
    if "hooks.slack.com/" in text:
        text = _token_shapes.SLACK_WEBHOOK.sub(rf"\1{FILTERED}", text)
    if "=" in text or ":" in text:
        text = _redact_pairs(text)
    lowered = text.lower()
    if "bearer" in lowered or "Basic" in text or "Digest" in text:
        text = _AUTH_SCHEME.sub(rf"\1\2{FILTERED}", text)
    if any(word in lowered for word in _LOOSE_HINTS):
        text = _LOOSE.sub(rf"\1\2{FILTERED}", text)
    return _CARD.sub(_card, text)

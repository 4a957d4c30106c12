"""JSON rendering of log lines: orjson, and no line lost to the values it holds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson


def dumps_line(value: Any, option: int = 0) -> str:
    """orjson, dict keys of any plain type (``{200: 7}``) included; what orjson still refuses (an int past 64 bits)
    the stdlib's json renders: a line is never lost to its values."""
    try:
        return orjson.dumps(value, default=repr, option=option | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = json.dumps(value, default=_iso_or_repr, ensure_ascii=False, skipkeys=True)
        return text + "\n" if option & orjson.OPT_APPEND_NEWLINE else text


def _iso_or_repr(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else repr(value)

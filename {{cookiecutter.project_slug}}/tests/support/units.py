"""Helpers for the tests of units of work: log lines as dicts, what of one unit may show in another's event."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The JSON log lines written to ``stream`` so far."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def lines_of(stream: io.StringIO, request_id: str) -> list[dict[str, Any]]:
    """The log lines of one unit of work, found by its request id."""
    return [line for line in log_lines(stream) if line.get("request_id") == request_id]


def event_text(event: dict[str, Any]) -> str:
    """The whole event as text: tags, breadcrumbs, contexts and request alike, for an "appears nowhere" check."""
    return orjson.dumps(event, default=str).decode()


def trace_id(event: dict[str, Any]) -> str:
    return str(event["contexts"]["trace"]["trace_id"])


def breadcrumb_messages(event: dict[str, Any]) -> list[str]:
    return [str(crumb.get("message")) for crumb in event.get("breadcrumbs", {}).get("values", [])]

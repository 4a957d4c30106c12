"""The Sentry wire format as tests read it: envelopes parsed into items, DSNs built and taken apart."""

# Runs only our own pinned tools, and every URL is http://127.0.0.1:

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvelopeItem:
    """One item of a Sentry envelope: its header (with `type`) and its payload bytes."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        """The payload parsed as JSON (events, transactions, sessions, client reports)."""
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    """A parsed Sentry envelope: https://develop.sentry.dev/sdk/data-model/envelopes/"""

    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)


def parse_envelope(raw: bytes) -> Envelope:
    """Split an envelope as an SDK sends it into its header and items."""
    header_line, _, rest = raw.partition(b"\n")
    items: list[EnvelopeItem] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        if not item_line.strip():
            continue
        item_headers = json.loads(item_line)
        length = item_headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:].removeprefix(b"\n")
        items.append(EnvelopeItem(item_headers, payload))
    return Envelope(json.loads(header_line), items)


def project_id(dsn: str) -> int:
    """The numeric project id that ends a DSN (`http://key@host:port/<id>`)."""
    return int(urllib.parse.urlsplit(dsn).path.rstrip("/").rsplit("/", 1)[-1])


def dsn_for_port(port: int, project: int = 1) -> str:
    """A well-formed DSN that sends to 127.0.0.1:`port`, for servers that are not bugsink."""
    return f"http://e2e0public0key0000000000000000@127.0.0.1:{port}/{project}"

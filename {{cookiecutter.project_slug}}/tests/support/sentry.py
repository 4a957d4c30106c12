"""Sentry in the tests: a transport that keeps every envelope in process, and a reset between tests."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

FAKE_DSN = "https://public@sentry.invalid/1"


class CapturingTransport(Transport):
    """Keeps every envelope the SDK would send, in process: no network, nothing dropped."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, item_type: str) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == item_type and item.payload.json is not None
        ]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Error and message events (not transactions)."""
        return self.items("event")

    @property
    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Sentry logs (``SENTRY_ENABLE_LOGS``), one dict each; they leave in batches: flush the SDK first."""
        return [log for batch in self.items("log") for log in batch.get("items", [])]

    def everything_sent(self) -> str:
        """Every envelope the SDK has sent so far (flushed first), as the text that would go over the wire."""
        sentry_sdk.flush()
        return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in self.envelopes)


def reset_sentry() -> None:
    """Close the SDK's client and leave a non-recording one, so later tests send nothing."""
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)

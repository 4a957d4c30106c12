"""Sentry in the tests: a transport that keeps every envelope in process, and a reset between tests.

The suite runs in the trace lifecycle ``TEST_SENTRY_TRACE_LIFECYCLE`` names (``static`` unless set; ``stream``
streams spans), so that ``TEST_SENTRY_TRACE_LIFECYCLE=stream make test`` holds every promise in the other one;
with sentry-sdk 3 installed it streams whatever the variable says.
"""

from __future__ import annotations

import os
from typing import Any, get_args

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app.core.config import Settings
from app.core.sentry import STREAM_ONLY

FAKE_DSN = "https://public@sentry.invalid/1"
TRACE_LIFECYCLE_ENV = "TEST_SENTRY_TRACE_LIFECYCLE"
TRACE_LIFECYCLE = os.environ.get(TRACE_LIFECYCLE_ENV) or "static"
if TRACE_LIFECYCLE not in get_args(Settings.model_fields["SENTRY_TRACE_LIFECYCLE"].annotation):
    raise pytest.UsageError(f"{TRACE_LIFECYCLE_ENV} must be static or stream, not {TRACE_LIFECYCLE!r}")
# sentry-sdk 3 streams whatever the setting says.
STREAMING = TRACE_LIFECYCLE == "stream" or STREAM_ONLY
# A test of what only a transaction carries (its request data, its tags): the stream lifecycle has none.
static_only = pytest.mark.skipif(STREAMING, reason="about a transaction: span streaming sends none")
# The statuses sentry-sdk gives a transaction for a 5xx answer (set_http_status).
_SERVER_ERRORS = {"internal_error", "unimplemented", "unavailable", "deadline_exceeded", "unknown_error"}


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
    def spans(self) -> list[dict[str, Any]]:
        """Streamed spans (``SENTRY_TRACE_LIFECYCLE=stream``), attributes as plain values; they leave in batches:
        flush the SDK first."""
        return [
            {**span, "attributes": {k: v.get("value") for k, v in (span.get("attributes") or {}).items()}}
            for batch in self.items("span")
            for span in batch.get("items", [])
        ]

    def traced(self) -> list[dict[str, Any]]:
        """Every unit of work traced so far (flushed first), in either lifecycle: its ``name``, ``trace_id``,
        ``span_id``, ``parent_span_id``, ``op``, ``status`` ("ok" or "error") and ``spans`` (each child's ``op``,
        ``name`` and ``span_id``)."""
        sentry_sdk.flush()
        # A client sends transactions or spans, never both: whichever arrived is read.
        transactions = [_from_transaction(transaction) for transaction in self.transactions]
        spans = self.spans
        children: dict[str, list[dict[str, Any]]] = {}
        for span in spans:
            if not span.get("is_segment"):
                children.setdefault(span["attributes"].get("sentry.segment.id"), []).append(span)
        return transactions + [
            {
                "name": segment["name"],
                "trace_id": segment["trace_id"],
                "span_id": segment["span_id"],
                "parent_span_id": segment.get("parent_span_id"),
                "op": segment["attributes"].get("sentry.op"),
                "status": segment["status"],
                "spans": [
                    {"op": child["attributes"].get("sentry.op"), "name": child["name"], "span_id": child["span_id"]}
                    for child in children.get(segment["span_id"], [])
                ],
            }
            for segment in spans
            if segment.get("is_segment")
        ]

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Sentry logs (``SENTRY_ENABLE_LOGS``), one dict each; they leave in batches: flush the SDK first."""
        return [log for batch in self.items("log") for log in batch.get("items", [])]

    def everything_sent(self) -> str:
        """Every envelope the SDK has sent so far (flushed first), as the text that would go over the wire."""
        sentry_sdk.flush()
        return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in self.envelopes)


def _from_transaction(transaction: dict[str, Any]) -> dict[str, Any]:
    trace = transaction["contexts"]["trace"]
    status = trace.get("status")
    return {
        "name": transaction["transaction"],
        "trace_id": trace["trace_id"],
        "span_id": trace["span_id"],
        "parent_span_id": trace.get("parent_span_id"),
        "op": trace.get("op"),
        "status": "error" if status in _SERVER_ERRORS else "ok",
        "spans": [
            {"op": span.get("op"), "name": span.get("description"), "span_id": span.get("span_id")}
            for span in transaction.get("spans", [])
        ],
    }


def reset_sentry() -> None:
    """Close the SDK's client and leave a non-recording one, so later tests send nothing."""
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)

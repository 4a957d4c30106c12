"""What a process's start-up line says of Sentry: on or off, where events go, at what trace rate and lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app.core._sentry.lifecycle import STREAM, STREAM_ONLY

if TYPE_CHECKING:
    from app.core.config import Settings


def sentry_status(settings: Settings, *, enabled: bool) -> dict[str, Any]:
    """The start-up line's Sentry fields: where events go is the DSN's host and project, never its key; the trace
    lifecycle is the one that runs (sentry-sdk 3 streams whatever ``SENTRY_TRACE_LIFECYCLE`` says)."""
    if not enabled:
        return {"sentry": "off"}
    fields: dict[str, Any] = {
        "sentry": "on",
        "traces_sample_rate": settings.SENTRY_TRACES_SAMPLE_RATE,
        "trace_lifecycle": STREAM if STREAM_ONLY else settings.SENTRY_TRACE_LIFECYCLE,
    }
    if settings.SENTRY_DSN is not None:
        dsn = urlsplit(str(settings.SENTRY_DSN.get_secret_value()))
        fields["sentry_host"] = f"{dsn.hostname}:{dsn.port}" if dsn.port else dsn.hostname
        fields["sentry_project"] = dsn.path.rstrip("/").rsplit("/", 1)[-1]
    return fields

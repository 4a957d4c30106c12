"""The redaction policy (``app.core.redaction``) applied to Sentry Logs: the SDK's ``before_send_log`` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.redaction._logs import SAFE_FIELDS
from app.core.redaction._names import is_sensitive_key
from app.core.redaction._text import FILTERED
from app.core.redaction._values import redact, redact_text

if TYPE_CHECKING:
    from sentry_sdk.types import Hint, Log

# What the SDK adds to every log (its name and version, the environment, the host, the code's location) and the
# line's own ids: never secrets. The SDK's message template and parameters are values, and go through the rules.
_SDK_PREFIXES = (
    *("sentry.sdk.", "sentry.environment", "sentry.release", "sentry.origin", "sentry.severity_"),
    *("code.", "thread.", "process.pid", "logger.name", "server.address"),
)


def scrub_log(log: Log, _: Hint) -> Log | None:
    """A Sentry log with its body and every attribute through the policy, by name and for secrets in its text.

    Never raises: a log the policy cannot clean is dropped (the SDK would drop it too) rather than sent as it was.
    """
    try:
        log["body"] = redact_text(str(log.get("body") or ""))
        attributes = log.get("attributes") or {}
        log["attributes"] = {key: scrub_attribute(key, value) for key, value in attributes.items()}
    except Exception:
        return None
    return log


def scrub_attribute(key: str, value: Any) -> Any:
    """One attribute of a Sentry log or span through the policy: the SDK's own as it is, the rest by name and text."""
    if key in SAFE_FIELDS or key.startswith(_SDK_PREFIXES) or value is None or isinstance(value, bool | int | float):
        return value
    if is_sensitive_key(key):
        return FILTERED
    return redact_text(value) if isinstance(value, str) else redact(value)

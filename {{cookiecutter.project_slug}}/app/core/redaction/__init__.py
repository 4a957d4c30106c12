"""The service's one redaction policy: what may leave the process, in Sentry events and in log lines.

Callers may rely on the names below, and on these promises: nothing here raises; a secret is replaced by
``FILTERED``, never dropped silently; a name is sensitive when one of its words is (``X-ApiKey``, ``new_password``),
and ``configure`` (the ``REDACT_EXTRA_KEYS`` setting) adds names, matched the same way, to events and log lines
alike. The parts behind this module are imported from here only:

- ``_names``: which names (keys, headers, parameters, variables) name a secret, matched as words;
- ``_text`` and ``_token_shapes``: secrets by their shape in free text, each rule linear in what it reads;
- ``_values``: ``redact`` and ``redact_text``, which walk any value with those rules;
- ``_events``: every part of a Sentry event through the policy, then Sentry's server-side rules (``_server_rules``);
- ``_fallback``: what an event keeps when scrubbing it fails as a whole;
- ``_logs``: the structlog processors and the console traceback writer that apply the policy to every log line;
- ``_sentry_logs``: ``scrub_log``, the same for each log line sent as a Sentry log (``SENTRY_ENABLE_LOGS``);
- ``_spans``: ``scrub_span``, the same for each span streamed to Sentry (``SENTRY_TRACE_LIFECYCLE=stream``).
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.redaction._events import redact_route_path, scrub_event
from app.core.redaction._fallback import strip_to_safe_minimum
from app.core.redaction._logs import SAFE_FIELDS, redact_exception, redact_fields, redacted_traceback
from app.core.redaction._names import is_sensitive_key, set_extra_names
from app.core.redaction._sentry_logs import scrub_log
from app.core.redaction._spans import scrub_span
from app.core.redaction._text import FILTERED, MAX_TEXT_LENGTH, cap_text
from app.core.redaction._values import forget_texts, redact, redact_text

__all__ = [
    "FILTERED",
    "MAX_TEXT_LENGTH",
    "SAFE_FIELDS",
    "cap_text",
    "configure",
    "is_sensitive_key",
    "redact",
    "redact_exception",
    "redact_fields",
    "redact_route_path",
    "redact_text",
    "redacted_traceback",
    "scrub_event",
    "scrub_log",
    "scrub_span",
    "strip_to_safe_minimum",
]


def configure(extra_keys: Iterable[str]) -> None:
    """Treat these names as sensitive too (the ``REDACT_EXTRA_KEYS`` setting), matched as words like the rest."""
    set_extra_names(extra_keys)
    forget_texts()

"""The repeated-error limiter: the first few events of one error are sent, the rest counted.

"One error" is its type and the innermost line of the service's own code it passed through (the line that raised
it, or the service's line that called the library that raised it): an error raised inside SQLAlchemy, httpx or
pydantic is keyed by the route or service that failed, not by the library line every such error shares.

In an error storm (a dependency down, a bad deploy) every request raises the same exception: each event costs the
request milliseconds to build, Sentry groups them into one issue anyway, and the SDK's queue (100 events) would drop
most of them after they were built. The next event sent for that error carries how many were skipped (extra
``similar_errors_skipped``).
"""

from __future__ import annotations

import time

from app.core.paths import APP_PACKAGE_DIR

ErrorKey = tuple[str, str, int]


class RepeatedErrorLimiter:
    """Sends the first ``burst`` events of one error, then one every ``every`` seconds; counts the rest."""

    def __init__(
        self, burst: int = 10, every: float = 6.0, max_errors: int = 1024, *, in_app_dir: str | None = None
    ) -> None:
        self.burst, self.every, self.max_errors = burst, every, max_errors
        # The folder of the service's own code; without one, every frame counts as the service's.
        self.in_app_dir = in_app_dir
        self._tokens: dict[ErrorKey, tuple[float, float]] = {}
        self._skipped: dict[ErrorKey, int] = {}

    def reset(self) -> None:
        self._tokens.clear()
        self._skipped.clear()

    def key(self, exc: BaseException) -> ErrorKey:
        """The exception's type and its innermost frame in the service's code (else its innermost frame)."""
        innermost = own = None
        tb = exc.__traceback__
        while tb is not None:
            innermost = tb
            if self.in_app_dir is None or tb.tb_frame.f_code.co_filename.startswith(self.in_app_dir):
                own = tb
            tb = tb.tb_next
        frame = own or innermost
        if frame is None:
            return (type(exc).__qualname__, "", 0)
        return (type(exc).__qualname__, frame.tb_frame.f_code.co_filename, frame.tb_lineno)

    def admit(self, exc: BaseException) -> tuple[bool, int]:
        """Whether to send this exception, and how many like it were skipped since the last one sent."""
        key, now = self.key(exc), time.monotonic()
        if key not in self._tokens and len(self._tokens) >= self.max_errors:
            self.reset()
        tokens, last = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.every)
        if tokens < 1.0:
            self._tokens[key] = (tokens, now)
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False, 0
        self._tokens[key] = (tokens - 1.0, now)
        return True, self._skipped.pop(key, 0)


repeated_errors = RepeatedErrorLimiter(in_app_dir=APP_PACKAGE_DIR)

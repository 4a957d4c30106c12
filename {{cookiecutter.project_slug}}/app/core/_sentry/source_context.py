"""Source lines around each frame of an error event, read through linecache (once per file per process).

The SDK's own ``include_source_context`` re-reads and splits each frame's whole file for every event (FastAPI's
routing.py is thousands of lines): most of the time it takes to build an error event.
"""

from __future__ import annotations

import linecache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentry_sdk.types import Event

SOURCE_CONTEXT_LINES = 5
_SOURCE_LINE_MAX = 1024


def _source_line(line: str) -> str:
    return line.rstrip("\r\n")[:_SOURCE_LINE_MAX]


def add_source_context(event: Event) -> None:
    """Add ``pre_context``, ``context_line`` and ``post_context`` to every frame that has none yet."""
    for container in (event.get("exception") or {}).get("values") or []:
        for frame in (container.get("stacktrace") or {}).get("frames") or []:
            path, lineno = frame.get("abs_path"), frame.get("lineno")
            if not isinstance(path, str) or not isinstance(lineno, int) or "context_line" in frame:
                continue
            lines = linecache.getlines(path)
            if not 0 < lineno <= len(lines):
                continue
            index = lineno - 1
            frame["pre_context"] = [_source_line(line) for line in lines[max(0, index - SOURCE_CONTEXT_LINES) : index]]
            frame["context_line"] = _source_line(lines[index])
            frame["post_context"] = [_source_line(line) for line in lines[index + 1 : index + 1 + SOURCE_CONTEXT_LINES]]

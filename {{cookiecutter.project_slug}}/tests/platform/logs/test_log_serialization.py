"""A JSON log line is written whatever its fields hold: dict keys that are not strings, integers past 64 bits."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog
from fastapi import FastAPI

HUGE = 2**70


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(("value", "written"), [({200: 7}, {"200": 7}), (HUGE, HUGE)], ids=["int-keys", "huge-int"])
async def test_a_structlog_line_is_written_whatever_its_fields_hold(
    app: FastAPI, log_stream: io.StringIO, value: Any, written: Any
) -> None:
    structlog.get_logger("app.test").info("batch", by_status=value)
    (line,) = lines(log_stream)
    assert line["event"] == "batch"
    assert line["by_status"] == written


async def test_a_stdlib_record_with_int_dict_keys_is_written(app: FastAPI, log_stream: io.StringIO) -> None:
    logging.getLogger("app.test.stdlib").info("batch", extra={"by_status": {200: 7}})
    (line,) = lines(log_stream)
    assert line["by_status"] == {"200": 7}

"""The database's reachability in the logs: one line at start when it does not answer, then one per change."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import reachability
from app.db.reachability import DatabaseWatch
from app.exceptions import ServiceUnavailableError
from tests.conftest import MakeSettings, capture_service_log, open_client
from tests.support.db import closed_port, create_schema, sqlite_url
from tests.support.notes import create_test_app

PASSWORD = "planted-Pw-8f3c1"  # never in a log line
PROBES = 25
SERVICE_LINES = {"service started", "service stopped"}


def logged(stream: io.StringIO) -> list[dict[str, Any]]:
    """The service's own lines, without the access lines and the start and stop lines."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] != "app.access" and line["event"] not in SERVICE_LINES]


def started(stream: io.StringIO) -> dict[str, Any]:
    [line] = [json.loads(line) for line in stream.getvalue().splitlines() if '"service started"' in line]
    return dict(line)


async def run_lifespan(app: FastAPI) -> io.StringIO:
    stream = capture_service_log()
    async with app.router.lifespan_context(app):
        pass
    return stream


async def test_start_logs_one_line_naming_the_unreachable_database_but_not_its_password(
    make_settings: MakeSettings,
) -> None:
    port = closed_port()
    app = create_test_app(make_settings(DATABASE_URL=f"postgresql+asyncpg://app:{PASSWORD}@127.0.0.1:{port}/orders"))

    stream = await run_lifespan(app)

    [line] = logged(stream)
    assert line["event"] == "database unreachable"
    assert line["level"] == "warning"
    assert (line["host"], line["port"], line["database"]) == ("127.0.0.1", port, "orders")
    assert line["error_type"] == "ConnectionRefusedError"
    assert started(stream)["database"] == "unreachable"
    assert PASSWORD not in stream.getvalue()
    assert "exception" not in line


async def test_start_says_the_database_answers(app: FastAPI) -> None:
    stream = await run_lifespan(app)

    assert logged(stream) == []
    assert started(stream)["database"] == "ok"


async def test_readiness_logs_the_outage_once_and_the_recovery_once_over_many_probes(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    path = tmp_path / "not-yet" / "service.db"  # SQLite cannot open it until its folder exists
    app = create_test_app(make_settings(DATABASE_URL=sqlite_url(path)))
    stream = capture_service_log()

    async for client in open_client(app):
        down = [(await client.get("/health/ready")).status_code for _ in range(PROBES)]
        path.parent.mkdir()
        await create_schema(sqlite_url(path))
        up = [(await client.get("/health/ready")).status_code for _ in range(PROBES)]

    assert (set(down), set(up)) == ({503}, {200})
    assert [line["event"] for line in logged(stream)] == ["database unreachable", "database reachable again"]
    assert "Traceback" not in stream.getvalue()


async def test_a_flapping_database_logs_each_change_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    answers = iter([False, False, True, True, False, True, True])

    async def check_database(*_: Any) -> None:
        if not next(answers):
            raise ServiceUnavailableError("The database is not reachable") from ConnectionRefusedError("refused")

    monkeypatch.setattr(reachability, "check_database", check_database)
    engine = create_async_engine(sqlite_url(tmp_path / "watched.db"))
    watch = DatabaseWatch(engine)

    with structlog.testing.capture_logs() as lines:
        results = [await watch.check(1.0) for _ in range(7)]
    await engine.dispose()

    assert results == [False, False, True, True, False, True, True]
    assert [line["event"] for line in lines] == [
        "database unreachable",
        "database reachable again",
        "database unreachable",
        "database reachable again",
    ]
    assert lines[0]["error_type"] == "ConnectionRefusedError"

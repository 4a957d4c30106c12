"""Fixtures for the end-to-end tier: a bugsink server for the session, stand-ins for a Sentry that is down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from ..support.postgres import postgres_server
from .bugsink import Bugsink
from .sentry_down import BlackHole, closed_port
from .service import BakedService, FailingUpstream, sqlite_url

if TYPE_CHECKING:
    from ..support.baking import Baked

_started: list[Bugsink] = []
# Lines a test wants in the session's summary (its counts), shown even when output is captured.
summary_lines: list[str] = []


@pytest.fixture(scope="session")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bugsink]:
    """A bugsink server on 127.0.0.1 for the whole session; give each test its own `create_project`."""
    with Bugsink.start(tmp_path_factory.mktemp("bugsink")) as server:
        _started.append(server)
        yield server


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    """A 127.0.0.1 server that accepts connections and never answers; `black_hole.dsn` points an SDK at it."""
    with BlackHole() as hole:
        yield hole


@pytest.fixture(name="closed_port")
def closed_port_fixture() -> int:
    """A 127.0.0.1 port that refuses every connection."""
    return closed_port()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in summary_lines:
        terminalreporter.write_line(line)
    for server in _started:
        terminalreporter.write_line(
            f"bugsink {server.version}: set up in {server.setup_seconds:.1f} s, started in"
            f" {server.start_seconds:.1f} s at {server.base_url}; data and log in {server.data_dir}"
        )


# The baked service as a real process (tests/e2e/service.py).

SERVICE_DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def baked_service(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> BakedService:
    """The template baked once for the session (staging, so logs are JSON), with its dependencies installed."""
    baked = bake(tmp_path_factory.mktemp("service-bake"), environment="staging")
    return BakedService.prepare(baked.project)


@pytest.fixture(scope="session", params=SERVICE_DATABASES)
def service_database(
    request: pytest.FixtureRequest, baked_service: BakedService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database for the service: an SQLite file, then a real PostgreSQL server on 127.0.0.1."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("service-sqlite") / "service.db")
        baked_service.migrate(url)
        yield url
        return
    with postgres_server() as server:
        baked_service.migrate(server.url)
        yield server.url


@pytest.fixture(scope="session")
def sqlite_database(baked_service: BakedService, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database for tests whose subject is not the database."""
    url = sqlite_url(tmp_path_factory.mktemp("service-sqlite-only") / "service.db")
    baked_service.migrate(url)
    return url


@pytest.fixture(scope="session")
def failing_upstream() -> Iterator[FailingUpstream]:
    """An upstream API on 127.0.0.1 that answers every call with a 500."""
    with FailingUpstream() as upstream:
        yield upstream

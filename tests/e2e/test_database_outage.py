"""A real PostgreSQL server stopped under a running service, then started again: 503s in bounded time while it is
down, and the same service process answering from the same data once it is back. No restart, no proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.postgres import PostgresServer, postgres_server
from .service import BakedService, Response, RunningService, ServiceClient

POSTS = "/api/v1/posts"
# DB_CONNECT_TIMEOUT and HEALTH_CHECK_TIMEOUT below, plus room for a loaded machine.
BOUND_SECONDS = 5.0
SETTINGS = {"DB_CONNECT_TIMEOUT": "1", "HEALTH_CHECK_TIMEOUT": "1"}
PROBES = 20


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own: the test stops it."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def served(baked_service: BakedService, database: PostgresServer, tmp_path: Path) -> Iterator[RunningService]:
    baked_service.migrate(database.url)
    with baked_service.run(tmp_path / "service", DATABASE_URL=database.url, **SETTINGS) as service:
        yield service


def assert_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"
    assert response.elapsed < BOUND_SECONDS


def test_stopped_postgresql_is_503_and_the_service_recovers_when_it_is_back(
    served: RunningService, database: PostgresServer
) -> None:
    with ServiceClient(served.url) as client:
        assert client.post(POSTS, json_body={"title": "Survives"}).status_code == 201
        assert client.get("/health/ready").status_code == 200  # the pool holds connections to the server

        database.stop()  # "fast": PostgreSQL ends every open connection, the pooled ones included
        assert_unavailable(client.get("/health/ready"))
        posts = client.get(POSTS)
        assert_unavailable(posts)
        assert posts.headers["Retry-After"], "a client is told when to try again (a probe is not)"

        database.start()  # same port, same data
        assert client.get("/health/ready").status_code == 200
        assert [post["title"] for post in client.get(POSTS).json()["items"]] == ["Survives"]
    assert served.process.poll() is None, "the service must not need a restart"


def test_readiness_logs_the_outage_once_and_the_recovery_once_over_many_probes(
    served: RunningService, database: PostgresServer
) -> None:
    """A probe every few seconds during an outage: one warning when it starts, one line when it ends, no
    traceback per probe."""
    with ServiceClient(served.url) as client:
        assert client.get("/health/ready").status_code == 200
        database.stop()
        for _ in range(PROBES):
            assert_unavailable(client.get("/health/ready"))
        database.start()
        for _ in range(PROBES):
            assert client.get("/health/ready").status_code == 200

    records = [record for record in served.log_records() if record.get("logger") != "app.access"]
    changes = [record for record in records if str(record.get("event", "")).startswith("database ")]
    assert [record["event"] for record in changes] == ["database unreachable", "database reachable again"]
    assert changes[0]["port"] == database.port
    assert not [record for record in records if "exception" in record], served.output_tail()

"""Job arguments go through the redaction policy: no planted secret reaches an event or a log line."""

from __future__ import annotations

import io

from app.core.redaction import FILTERED
from tests.conftest import Events, MakeSettings, capture_service_log, open_client
from tests.support.corpus import PEM, SHAPED, marker
from tests.support.jobs import create_job_app, finish_jobs
from tests.support.sentry import FAKE_DSN, CapturingTransport

# Secrets by name, then secrets by shape under innocent names.
ARGUMENTS = {
    "password": marker(101),
    "api_key": marker(102),
    "accessToken": marker(103),
    "client_secret": marker(104),
    "nested": {"refresh_token": marker(105), "connectionString": f"Server=db;Password={marker(106)}"},
    "text": f"password={marker(107)}",
    "endpoint": f"https://app:{marker(108)}@partner.example/hook",
    "note": f"Bearer {marker(109)}abcdefghijklmnop",
    "card": SHAPED["2 log: card field"],
    "jwt": SHAPED["4 value: JWT under an innocent key"],
    "pem": PEM,
}
MARKERS = [marker(number) for number in range(101, 110)] + [SHAPED["2 log: card field"], "mk90Zq7w", "MIIE"]


async def test_job_arguments_leave_no_secret_in_events_or_logs(
    make_settings: MakeSettings, sentry_transport: CapturingTransport, events: Events
) -> None:
    settings = make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_INCLUDE_LOCALS=True, LOG_LEVEL="DEBUG")
    app = create_job_app(settings, sentry_transport=sentry_transport)
    stream = io.StringIO()
    async for client in open_client(app):
        stream = capture_service_log()
        response = await client.post("/api/v1/test-jobs/tests.fails_with", json=ARGUMENTS)
        assert response.status_code == 200
        await finish_jobs()

    [event] = events()
    assert event["contexts"]["job"]["kwargs"]["password"] == FILTERED  # the arguments are there, redacted
    sent, logged = sentry_transport.everything_sent(), stream.getvalue()
    assert "job received" in logged
    assert [secret for secret in MARKERS if secret in sent] == []
    assert [secret for secret in MARKERS if secret in logged] == []

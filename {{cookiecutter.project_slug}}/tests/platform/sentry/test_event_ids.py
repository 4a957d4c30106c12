"""The event id an error response carries is the id of that error's own event, or there is none."""

from __future__ import annotations

import pytest

from app.core.sentry import report
from tests.conftest import Events, MakeSettings, open_client
from tests.support.notes import create_test_app
from tests.support.sentry import FAKE_DSN, CapturingTransport


def nightly_job() -> None:
    raise RuntimeError("nightly job failed")


def raised() -> RuntimeError:
    try:
        nightly_job()
    except RuntimeError as exc:
        return exc
    raise AssertionError("the job did not fail")


async def test_sampled_out_error_answers_without_the_id_of_an_earlier_event(
    make_settings: MakeSettings, sentry_transport: CapturingTransport
) -> None:
    """An error reported outside any request (a job) leaves its event id on the process's scope, and every
    request's scope starts as a copy of it: an error whose own event was sampled out must not answer with it."""
    create_test_app(make_settings(SENTRY_DSN=FAKE_DSN), sentry_transport=sentry_transport)
    assert report(raised()) is not None
    settings = make_settings(SENTRY_DSN=FAKE_DSN, ENABLE_DEBUG_ROUTES=True, SENTRY_ERROR_SAMPLE_RATE=0.0)
    async for client in open_client(create_test_app(settings, sentry_transport=sentry_transport)):
        response = await client.get("/sentry-debug")
        assert response.status_code == 500
        assert "event_id" not in response.json()


@pytest.mark.usefixtures("app")
def test_exception_reported_twice_is_one_event_and_both_calls_return_its_id(events: Events) -> None:
    exc = raised()
    first = report(exc)
    assert first is not None
    assert report(exc) == first
    assert [event["event_id"] for event in events()] == [first]

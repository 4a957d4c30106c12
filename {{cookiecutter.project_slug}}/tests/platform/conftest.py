"""Fixtures of the platform's tests: every app they build carries the tests' own notes resource."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.support.notes import create_test_app
from tests.support.sentry import CapturingTransport


@pytest.fixture
def app(settings: Settings, sentry_transport: CapturingTransport) -> FastAPI:
    """The service with ``/api/v1/notes`` mounted, capturing its events: the vehicle of tests that need a route."""
    return create_test_app(settings, sentry_transport=sentry_transport)

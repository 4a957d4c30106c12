"""Fixtures of the job tests: every app they build can enqueue the throwaway jobs of ``tests.support.jobs``."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.support.jobs import create_job_app
from tests.support.sentry import CapturingTransport


@pytest.fixture
def app(settings: Settings, sentry_transport: CapturingTransport) -> FastAPI:
    """The service with ``/api/v1/test-jobs/{name}`` mounted, capturing its events."""
    return create_job_app(settings, sentry_transport=sentry_transport)

"""The application factory, and the ``app`` that ``uvicorn app.main:app`` serves."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI

from app.api.docs import add_docs
from app.api.router import api_router
from app.api.routes import debug, health
{%- if cookiecutter.include_examples == "yes" %}
from app.clients.external_api import ExternalAPIClient
{%- endif %}
from app.core.config import VERSION, Settings, get_settings
from app.core.logging import configure_logging
from app.core.redaction import configure as configure_redaction
from app.core.sentry import (
    flush_sentry,
    init_sentry,
    report,
    reporting_escaped_errors,
    sentry_startup,
    sentry_status,
    trace_queries,
)
from app.core.shutdown import drain_on_sigterm
from app.db.engine import build_engine
from app.db.reachability import DatabaseWatch
from app.db.session import build_sessionmaker
from app.middleware.allowed_methods import ALLOWED_METHODS, allowed_methods_by_path
from app.middleware.error_handler import add_exception_handlers
from app.middleware.request_context import RequestContextMiddleware
from app.middleware.security_headers import SecurityHeaders
from app.schemas.errors import ErrorResponse
{%- if cookiecutter.include_worker == "yes" %}
from app.worker.broker import start_enqueuing, stop_enqueuing
{%- endif %}

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport

log = structlog.get_logger(__name__)


async def _shutdown_step(step: str, close: Callable[[], Awaitable[None]]) -> None:
    """Run one step of shutdown: a failure is reported and logged, and the steps after it still run."""
    try:
        await close()
    except Exception as exc:
        log.exception("shutdown step failed", step=step, event_id=report(exc, handled=False))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine and the upstream clients, read the route table; close them, flush Sentry."""
    settings: Settings = app.state.settings
    sentry_enabled: bool = app.state.sentry_enabled
    # Each closing step is registered as its resource opens and runs in reverse order, even when start-up fails
    # half-way or an earlier step fails: Sentry is flushed last, after every line that may still report.
    async with AsyncExitStack() as shutdown:
        shutdown.callback(flush_sentry)
        shutdown.callback(log.info, "service stopped")
        # A task that fails unawaited is reported once (spawn() reports its own tasks' failures itself).
        shutdown.enter_context(reporting_escaped_errors())
        # A failing step is one event (sent by the flush above) and one log line; the process then exits.
        with sentry_startup():
            engine = build_engine(settings)
            shutdown.push_async_callback(_shutdown_step, "database engine", engine.dispose)
            if sentry_enabled:
                trace_queries(engine)
            app.state.engine = engine
            app.state.sessionmaker = build_sessionmaker(engine)
{%- if cookiecutter.include_examples == "yes" %}
            app.state.external_api = ExternalAPIClient.open(settings)
            shutdown.push_async_callback(_shutdown_step, "external API client", app.state.external_api.aclose)
{%- endif %}
{%- if cookiecutter.include_worker == "yes" %}
            # Jobs enqueued by requests; run here too when BROKER_URL is memory://, on the resources opened above.
            await start_enqueuing(
                settings=settings,
                engine=engine,
                sessionmaker=app.state.sessionmaker,
{%- if cookiecutter.include_examples == "yes" %}
                external_api=app.state.external_api,
{%- endif %}
            )
            shutdown.push_async_callback(_shutdown_step, "job broker", stop_enqueuing)
{%- endif %}
            # Every router is included by now, and routes added after create_app() too: the 405's Allow header.
            setattr(app.state, ALLOWED_METHODS, allowed_methods_by_path(app.routes))
            # Checked once, so that the start says whether the database answers; the service starts either way, and
            # readiness answers 503 until it does.
            app.state.database = DatabaseWatch(engine)
            database_answers = await app.state.database.check(settings.HEALTH_CHECK_TIMEOUT)
            log.info(
                "service started",
                environment=settings.ENVIRONMENT,
                database="ok" if database_answers else "unreachable",
                release=settings.SENTRY_RELEASE,
                **sentry_status(settings, enabled=sentry_enabled),
            )
        # What start-up built (modules, routes, engine, clients) lives as long as the process: keep it out of the
        # garbage collector's sight. Under concurrent load, objects that requests hold for a moment get promoted to
        # the oldest generation, and each full collection would scan all of start-up again: pauses of tens of
        # milliseconds, several times a second with Sentry on. Speeding up collection is a documented use of
        # freeze().
        gc.freeze()
        shutdown.callback(gc.unfreeze)  # the first step of shutdown: nothing that fails leaves objects frozen
        with drain_on_sigterm(settings.SHUTDOWN_DRAIN_SECONDS) as drain:
            app.state.drain = drain
            yield


def create_app(settings: Settings | None = None, *, sentry_transport: Transport | None = None) -> FastAPI:
    """Build the service. ``sentry_transport`` lets tests capture events in-process."""
    settings = settings or get_settings()
    # Logging first, so that Sentry's set-up and everything after it logs through the service's pipeline. Both
    # redact with one policy, which the settings may extend.
    configure_redaction(settings.REDACT_EXTRA_KEYS)
    configure_logging(settings)
    sentry_enabled = init_sentry(settings, transport=sentry_transport)

    app = FastAPI(
        title=settings.PROJECT_NAME,
        version=VERSION,
        lifespan=lifespan,
        # FastAPI's own docs pages load their scripts from CDNs; app/api/docs.py serves them from the service.
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        docs_url=None,
        redoc_url=None,
        # Errors and traces go to Sentry. FastAPI's own OpenTelemetry support would look for configured providers
        # on every request (about a fifth of a trivial request's time here): off until a team wires OpenTelemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Answers any operation may give; declaring 422 replaces FastAPI's own 422 model, which we never send.
        responses={
            413: {"model": ErrorResponse, "description": "Request body over MAX_REQUEST_BODY_BYTES"},
            422: {"model": ErrorResponse, "description": "Invalid parameters or body"},
            500: {"model": ErrorResponse, "description": "Unexpected error"},
        },
    )
    app.state.settings = settings
    app.state.sentry_enabled = sentry_enabled
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
        sentry_enabled=sentry_enabled,
        security_headers=SecurityHeaders(hsts_max_age=settings.HSTS_MAX_AGE),
    )
    add_exception_handlers(app)

    app.include_router(health.router)
    app.include_router(api_router)
    if settings.debug_routes_enabled:
        app.include_router(debug.router)
    if settings.docs_enabled:
        add_docs(app)
    return app


@cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    # Built on first access, so importing this module (tests, tools) starts nothing.
    if name == "app":
        return _default_app()
    raise AttributeError(name)

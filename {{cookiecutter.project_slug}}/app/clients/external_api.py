"""The client of one upstream HTTP API (the example): opened with the service, closed with it, one dependency.

Its settings are the ``EXTERNAL_API_`` variables of ``app.core.config.Settings``. For a second upstream, copy this
module to ``app/clients/<name>.py``, give it settings of its own (``<NAME>_BASE_URL``, ``<NAME>_TIMEOUT``), open
and close it in the lifespan in ``app.main`` beside this one, and declare its dependency in the routes that call it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import httpx
import structlog
from fastapi import Depends, Request

from app.clients.tls import tls_context
from app.exceptions import ExternalServiceError, NotFoundError

if TYPE_CHECKING:
    from app.core.config import Settings

SERVICE_NAME = "example-api"
CONNECT_TIMEOUT_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 5.0

logger = structlog.get_logger(__name__)


class ExternalAPIClient:
    """Calls to the example upstream API. Every failure becomes ExternalServiceError (503) or NotFoundError.

    ``timeout`` bounds each call as a whole; httpx's own timeouts bound each phase (connect, every read), so an
    upstream that sends a byte now and then would otherwise hold a call for as long as it likes.
    """

    def __init__(self, http: httpx.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.http = http
        self.timeout = timeout
        # The upstream as logs and errors name it: host and port only, never credentials, path or query.
        url = http.base_url
        self.host = f"{url.host}:{url.port}" if url.port else url.host

    @classmethod
    def open(cls, settings: Settings) -> ExternalAPIClient:
        """One pooled connection set per process, with a deadline on every phase of every call."""
        total = settings.EXTERNAL_API_TIMEOUT
        http = httpx.AsyncClient(
            base_url=str(settings.EXTERNAL_API_BASE_URL),
            timeout=httpx.Timeout(total, connect=min(CONNECT_TIMEOUT_SECONDS, total)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            headers={"Accept": "application/json"},
            verify=tls_context(),
        )
        return cls(http, timeout=total)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def fetch_resource(self, resource_id: str) -> dict[str, Any]:
        """GET /resources/{resource_id} upstream: its JSON object, or NotFoundError when upstream says 404."""
        response = await self._get(f"/resources/{quote(resource_id, safe='')}", resource_id)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            logger.warning("external_call_bad_payload", service=SERVICE_NAME, status_code=response.status_code)
            raise ExternalServiceError(
                f"{SERVICE_NAME} ({self.host}) sent an unexpected payload",
                service_name=SERVICE_NAME,
                details={"host": self.host},
            )
        return payload

    async def _get(self, path: str, resource_id: str) -> httpx.Response:
        log = logger.bind(service=SERVICE_NAME, host=self.host, method="GET", path=path)
        where = {"host": self.host}
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.http.get(path)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            status_code = exc.response.status_code
            if status_code == httpx.codes.NOT_FOUND:
                raise NotFoundError(f"Resource {resource_id!r} not found", details={"id": resource_id}) from exc
            log.warning("external_call_failed", status_code=status_code)
            raise ExternalServiceError(
                f"{SERVICE_NAME} ({self.host}) answered HTTP {status_code}", service_name=SERVICE_NAME, details=where
            ) from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            log.warning("external_call_timed_out", error_type=type(exc).__name__, timeout_seconds=self.timeout)
            raise ExternalServiceError(
                f"{SERVICE_NAME} ({self.host}) did not answer within {self.timeout} s",
                service_name=SERVICE_NAME,
                details=where,
            ) from exc
        except httpx.TransportError as exc:
            log.warning("external_call_failed", error_type=type(exc).__name__)
            raise ExternalServiceError(
                f"{SERVICE_NAME} ({self.host}) is not reachable", service_name=SERVICE_NAME, details=where
            ) from exc
        return response


async def get_external_api(request: Request) -> ExternalAPIClient:
    """The process's client, opened by the lifespan (``app.state.external_api``)."""
    client: ExternalAPIClient = request.app.state.external_api
    return client


ExternalAPIDep = Annotated[ExternalAPIClient, Depends(get_external_api)]

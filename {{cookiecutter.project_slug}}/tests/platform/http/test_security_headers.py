"""Every response carries the security headers, envelopes included; an error envelope is never cached."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MakeSettings, open_client
from tests.support.notes import create_test_app

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# One request per kind of response: (method, path, status).
KINDS = {
    "200": ("GET", "/health/live", 200),
    "404": ("GET", "/no/such/route", 404),
    "405": ("DELETE", "/health/live", 405),
    "422": ("GET", "/api/v1/notes/not-a-number", 422),
    "500": ("GET", "/sentry-debug", 500),
    "docs": ("GET", "/docs", 200),
}
ENVELOPES = ("404", "405", "422", "500")


async def answer(client: httpx.AsyncClient, kind: str) -> httpx.Response:
    method, path, status = KINDS[kind]
    response = await client.request(method, path)
    assert response.status_code == status, response.text
    return response


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_of_response_carries_the_security_headers(client: httpx.AsyncClient, kind: str) -> None:
    response = await answer(client, kind)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "docs"])
async def test_api_responses_allow_no_content_at_all(client: httpx.AsyncClient, kind: str) -> None:
    response = await answer(client, kind)
    assert response.headers.get_list("content-security-policy") == [API_POLICY]


async def test_a_docs_page_keeps_its_own_policy_alone(client: httpx.AsyncClient) -> None:
    """Two policies would both apply: the API's would block the page's scripts."""
    policies = (await answer(client, "docs")).headers.get_list("content-security-policy")
    assert len(policies) == 1
    assert policies[0] != API_POLICY
    assert "script-src 'self' 'sha256-" in policies[0]


@pytest.mark.parametrize("kind", ENVELOPES)
async def test_error_envelopes_are_never_stored(client: httpx.AsyncClient, kind: str) -> None:
    response = await answer(client, kind)
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"]


async def test_a_body_refused_before_it_is_read_carries_the_headers(make_settings: MakeSettings) -> None:
    app = create_test_app(make_settings(MAX_REQUEST_BODY_BYTES=10))
    async for client in open_client(app):
        response = await client.post("/api/v1/notes", content=b"x" * 100, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.headers["cache-control"] == "no-store"
        assert response.headers.get_list("content-security-policy") == [API_POLICY]
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_hsts_is_off_until_configured(client: httpx.AsyncClient) -> None:
    assert "strict-transport-security" not in (await answer(client, "200")).headers


@pytest.mark.parametrize("kind", ["200", "404"])
async def test_hsts_max_age_sends_strict_transport_security(make_settings: MakeSettings, kind: str) -> None:
    app = create_test_app(make_settings(HSTS_MAX_AGE=31536000))
    async for client in open_client(app):
        response = await answer(client, kind)
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"

"""The error envelopes the README shows are what the service answers: each one is sent again and compared."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.schemas.errors import REQUEST_ID_HEADER

README = Path(__file__).resolve().parents[2] / "README.md"
EVENT_ID = re.compile(r"[0-9a-f]{32}")

Send = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]


{% if cookiecutter.include_examples == "yes" -%}
async def unknown_post(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/api/v1/posts/42", headers=headers)


async def empty_title(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v1/posts", json={"title": ""}, headers=headers)


async def duplicate_title(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    assert (await client.post("/api/v1/posts", json={"title": "Hello"})).status_code == 201
    return await client.post("/api/v1/posts", json={"title": "Hello"}, headers=headers)


{% endif -%}
async def unexpected_error(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/sentry-debug", headers=headers)


# The request behind each example, as the README describes it, by the example's error code.
REQUESTS: dict[str, tuple[int, Send]] = {
{%- if cookiecutter.include_examples == "yes" %}
    "NOT_FOUND": (404, unknown_post),
    "VALIDATION_ERROR": (422, empty_title),
    "CONFLICT_ERROR": (409, duplicate_title),
{%- endif %}
    "INTERNAL_ERROR": (500, unexpected_error),
}


def readme_examples() -> dict[str, dict[str, Any]]:
    """Every JSON block of the README that is an error envelope, by its error code."""
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    examples = [json.loads(block) for block in blocks]
    return {example["error"]: example for example in examples if isinstance(example, dict) and "error" in example}


def test_every_example_in_the_readme_has_its_request_here() -> None:
    assert set(readme_examples()) == set(REQUESTS)


@pytest.mark.parametrize("error", sorted(REQUESTS))
async def test_readme_example_is_a_real_response(client: httpx.AsyncClient, error: str) -> None:
    example = readme_examples()[error]
    status, send = REQUESTS[error]
    # The example's request id, sent as the client's: only the Sentry event id then differs from run to run.
    response = await send(client, {REQUEST_ID_HEADER: example["request_id"]})
    real = response.json()
    assert response.status_code == status
    if "event_id" in example:
        assert EVENT_ID.fullmatch(example["event_id"])
        assert EVENT_ID.fullmatch(real.get("event_id", "")), real
        real["event_id"] = example["event_id"]
    assert real == example

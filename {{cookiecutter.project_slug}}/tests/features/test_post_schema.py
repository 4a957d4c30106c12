"""The published schema states every rule the posts API enforces: a client generated from it is never surprised."""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import StringConstraints, TypeAdapter

from app.schemas.post import WHITESPACE

POSTS = "/api/v1/posts"
TITLES = [
    "Hello",
    "  Hello  ",
    "\n",
    " \t\r\n ",
    "\u3000",
    "\x85",
    "\xa0x\xa0",
    "\x1c",  # Python's str.isspace() says whitespace, Unicode does not
    "\u200b",  # zero width space: not whitespace either
    "\ufeff",  # JavaScript's \s says whitespace, Unicode does not
    "x" * 200,
    "x" * 199 + " ",
    "x" * 200 + " ",
    "x" * 201,
    "",
    "nul\x00",
]


def short(title: str) -> str:
    return ascii(title) if len(title) <= 12 else f"{len(title)}-chars-ending-{title[-1]!a}"


def title_rules(app: FastAPI, model: str) -> dict[str, Any]:
    schema = app.openapi()["components"]["schemas"][model]["properties"]["title"]
    rules = schema.get("anyOf", [schema])[0]
    assert isinstance(rules, dict)
    return rules


def schema_allows(rules: dict[str, Any], title: str) -> bool:
    """What a client reading the schema concludes, with Python's regex engine as one of many."""
    return rules["minLength"] <= len(title) <= rules["maxLength"] and re.search(rules["pattern"], title) is not None


def test_whitespace_is_what_unicode_calls_whitespace() -> None:
    """The set the pattern and the stripping use is the one pydantic's own strip_whitespace uses."""
    strip = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])
    code_points = (*range(0xD800), *range(0xE000, sys.maxunicode + 1))  # every character but the surrogates
    unicode_whitespace = {chr(code) for code in code_points if strip.validate_python(chr(code)) == ""}
    assert set(WHITESPACE) == unicode_whitespace


@pytest.mark.parametrize("title", TITLES, ids=short)
async def test_a_title_is_created_exactly_when_the_schema_allows_it(
    app: FastAPI, client: httpx.AsyncClient, title: str
) -> None:
    allowed = schema_allows(title_rules(app, "PostCreate"), title)
    response = await client.post(POSTS, json={"title": title})
    assert response.status_code == (201 if allowed else 422), response.text


@pytest.mark.parametrize("title", TITLES, ids=short)
async def test_a_title_is_updated_exactly_when_the_schema_allows_it(
    app: FastAPI, client: httpx.AsyncClient, title: str
) -> None:
    created = (await client.post(POSTS, json={"title": "Before"})).json()
    allowed = schema_allows(title_rules(app, "PostUpdate"), title)
    response = await client.patch(f"{POSTS}/{created['id']}", json={"title": title})
    assert response.status_code == (200 if allowed else 422), response.text


async def test_a_title_is_stored_without_the_whitespace_around_it(client: httpx.AsyncClient) -> None:
    response = await client.post(POSTS, json={"title": "\u3000 Hello\n"})
    assert response.json()["title"] == "Hello"


async def test_openapi_documents_errors_with_the_envelope(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    operations = [schema["paths"][POSTS], schema["paths"][POSTS + "/{post_id}"]]
    for path in operations:
        for operation in path.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error_ref
    assert {"400", "404", "409", "422", "503"} <= set(operations[1]["patch"]["responses"])

"""A 422 never echoes the rejected value, not even where a validator's own message quotes it."""

from __future__ import annotations

import io
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, field_validator, model_validator

PLANTED = "sk_test_planted_4c1f9e07"


def live_key(value: str) -> str:
    if not value.startswith("sk_live_"):
        raise ValueError(f"expected a live key, got {value}")
    return value


class Credentials(BaseModel):
    key: str
    scopes: list[str] = []

    @field_validator("key")
    @classmethod
    def _live(cls, value: str) -> str:
        return live_key(value)


class Pair(BaseModel):
    first: str
    second: str

    @model_validator(mode="after")
    def _different(self) -> Pair:
        if self.first == self.second:
            raise ValueError(f"first and second must differ, both are {self.first!r}")
        return self


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/credentials")
    async def credentials(body: Credentials) -> dict[str, str]:
        return {"key": body.key}

    @app.post("/pairs")
    async def pairs(body: Pair) -> dict[str, str]:
        return {"first": body.first}

    @app.get("/pages")
    async def pages(size: Annotated[int, Query(lt=10)], token: Annotated[str, Query(min_length=40)]) -> int:
        return size

    return app


def messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["message"] for error in response.json()["details"]["errors"]]


async def test_a_validator_quoting_the_value_has_it_filtered(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    response = await client.post("/credentials", json={"key": PLANTED})

    assert messages(response) == ["Value error, expected a live key, got [Filtered]"]
    assert PLANTED not in response.text
    assert PLANTED not in log_stream.getvalue()


async def test_a_model_validator_quoting_a_field_of_the_body_has_it_filtered(client: httpx.AsyncClient) -> None:
    response = await client.post("/pairs", json={"first": PLANTED, "second": PLANTED})

    assert messages(response) == ["Value error, first and second must differ, both are '[Filtered]'"]
    assert PLANTED not in response.text


@pytest.mark.parametrize("planted", ["abc", "x1", "7"])
async def test_a_short_value_is_filtered_where_it_stands_alone(client: httpx.AsyncClient, planted: str) -> None:
    response = await client.post("/credentials", json={"key": planted})

    assert messages(response) == ["Value error, expected a live key, got [Filtered]"]


async def test_messages_that_name_the_rule_keep_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/pages", params={"size": "10", "token": "10"})

    assert messages(response) == ["Input should be less than 10", "String should have at least 40 characters"]


async def test_every_error_of_a_request_is_filtered(client: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {"key": PLANTED, "scopes": [PLANTED, 7]}

    response = await client.post("/credentials", json=body)

    assert messages(response) == ["Value error, expected a live key, got [Filtered]", "Input should be a valid string"]
    assert PLANTED not in response.text

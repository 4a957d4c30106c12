"""/api/v1/posts: the worked example's behaviour, success and failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from app.schemas.fields import ID_MAX
from app.schemas.post import BODY_MAX_LENGTH, PAGE_MAX_LIMIT

POSTS = "/api/v1/posts"


async def create_post(client: httpx.AsyncClient, title: str = "Hello", body: str = "World") -> dict[str, Any]:
    response = await client.post(POSTS, json={"title": title, "body": body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


async def test_create_returns_the_new_post(client: httpx.AsyncClient) -> None:
    created = await create_post(client, title="  Hello  ", body="World")

    assert created["title"] == "Hello"
    assert created["body"] == "World"
    assert isinstance(created["id"], int)
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None


async def test_created_post_can_be_read_back(client: httpx.AsyncClient) -> None:
    created = await create_post(client)

    response = await client.get(f"{POSTS}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "no title"}, "body.title"),
        ({"title": "   ", "body": "blank title"}, "body.title"),
        ({"title": "x" * 201, "body": "long title"}, "body.title"),
        ({"title": "long body", "body": "x" * (BODY_MAX_LENGTH + 1)}, "body.body"),
        ({"title": "extra", "body": "", "author": "me"}, "body.author"),
        ({"title": "nul\x00", "body": "NUL in the title"}, "body.title"),
        ({"title": "NUL in the body", "body": "nul\x00"}, "body.body"),
    ],
)
async def test_invalid_post_is_rejected_with_the_field_named(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    response = await client.post(POSTS, json=payload)

    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in [error["field"] for error in body["details"]["errors"]]


async def test_duplicate_title_is_a_conflict_naming_the_field(client: httpx.AsyncClient) -> None:
    await create_post(client, title="Same")

    response = await client.post(POSTS, json={"title": "Same", "body": "again"})

    body = assert_error(response, 409, "CONFLICT_ERROR")
    assert body["details"] == {"field": "title"}
    assert "INSERT" not in body["message"]


async def test_conflict_does_not_hide_earlier_or_later_posts(client: httpx.AsyncClient) -> None:
    await create_post(client, title="First")
    await client.post(POSTS, json={"title": "First", "body": "duplicate"})
    await create_post(client, title="Second")

    page = (await client.get(POSTS)).json()

    assert [post["title"] for post in page["items"]] == ["First", "Second"]


async def test_conflict_is_not_sent_to_sentry(client: httpx.AsyncClient, events: Any) -> None:
    await create_post(client, title="Same")
    await client.post(POSTS, json={"title": "Same", "body": "again"})

    assert events() == []


async def test_list_pages_through_posts_oldest_first(client: httpx.AsyncClient) -> None:
    for number in range(5):
        await create_post(client, title=f"Post {number}")

    response = await client.get(POSTS, params={"limit": 2, "offset": 2})

    assert response.status_code == 200
    page = response.json()
    assert [post["title"] for post in page["items"]] == ["Post 2", "Post 3"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)


async def test_list_of_an_empty_table_is_an_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get(POSTS)

    assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": PAGE_MAX_LIMIT + 1}, {"offset": -1}, {"offset": ID_MAX + 1}, {"limit": "x"}]
)
async def test_list_rejects_out_of_range_paging(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get(POSTS, params=params)

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_missing_post_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{POSTS}/999")

    body = assert_error(response, 404, "NOT_FOUND")
    assert body["details"] == {"id": 999}


async def test_non_integer_post_id_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{POSTS}/abc")

    assert_error(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("post_id", [0, ID_MAX + 1, 2**64])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_out_of_range_post_id_is_rejected(client: httpx.AsyncClient, method: str, post_id: int) -> None:
    response = await client.request(method, f"{POSTS}/{post_id}", json={"body": "x"} if method == "PATCH" else None)

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_update_changes_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    created = await create_post(client, title="Before", body="Body")

    response = await client.patch(f"{POSTS}/{created['id']}", json={"title": "After"})

    assert response.status_code == 200
    assert response.json() == {**created, "title": "After"}
    assert (await client.get(f"{POSTS}/{created['id']}")).json()["title"] == "After"


async def test_update_to_a_taken_title_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create_post(client, title="Taken")
    other = await create_post(client, title="Other")

    response = await client.patch(f"{POSTS}/{other['id']}", json={"title": "Taken"})

    assert_error(response, 409, "CONFLICT_ERROR")
    assert (await client.get(f"{POSTS}/{other['id']}")).json()["title"] == "Other"


async def test_update_rejects_null_title(client: httpx.AsyncClient) -> None:
    created = await create_post(client)

    response = await client.patch(f"{POSTS}/{created['id']}", json={"title": None})

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_update_of_a_missing_post_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{POSTS}/999", json={"title": "Nobody"})

    assert_error(response, 404, "NOT_FOUND")


async def test_delete_removes_the_post(client: httpx.AsyncClient) -> None:
    created = await create_post(client)

    response = await client.delete(f"{POSTS}/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get(f"{POSTS}/{created['id']}"), 404, "NOT_FOUND")


async def test_delete_of_a_missing_post_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{POSTS}/999")

    assert_error(response, 404, "NOT_FOUND")


async def test_deleted_title_can_be_used_again(client: httpx.AsyncClient) -> None:
    created = await create_post(client, title="Reused")
    await client.delete(f"{POSTS}/{created['id']}")

    await create_post(client, title="Reused")

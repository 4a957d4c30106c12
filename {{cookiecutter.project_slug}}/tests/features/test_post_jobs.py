"""The worked example's jobs: creating a post looks it up upstream; the nightly purge deletes expired posts only."""

from __future__ import annotations

import httpx

from app.worker.tasks import purge_expired_posts
from tests.conftest import Events
from tests.support.jobs import JobUpstream, finish_jobs

POSTS = "/api/v1/posts"


async def create_post(client: httpx.AsyncClient, title: str) -> int:
    response = await client.post(POSTS, json={"title": title, "body": "text"})
    assert response.status_code == 201, response.text
    post_id: int = response.json()["id"]
    return post_id


async def test_creating_a_post_enqueues_a_job_that_looks_it_up_upstream(
    client: httpx.AsyncClient, job_upstream: JobUpstream, events: Events
) -> None:
    post_id = await create_post(client, "Looked up")
    await finish_jobs()

    assert [request.url.path for request in job_upstream.requests] == [f"/resources/post-{post_id}"]
    assert events() == []


async def test_an_upstream_that_keeps_failing_is_retried_then_one_event(
    client: httpx.AsyncClient, job_upstream: JobUpstream, events: Events
) -> None:
    job_upstream.handler = lambda request: httpx.Response(502)

    await create_post(client, "Upstream down")
    await finish_jobs()

    assert len(job_upstream.requests) == 3
    [event] = events()
    assert event["tags"]["task_name"] == "check_post_upstream"
    assert event["tags"]["job.attempts"] == "3"
    assert event["exception"]["values"][-1]["type"] == "ExternalServiceError"


async def test_the_purge_deletes_the_posts_older_than_its_days_and_keeps_the_rest(client: httpx.AsyncClient) -> None:
    await create_post(client, "Kept")
    await purge_expired_posts.kiq(days=1)
    await finish_jobs()
    assert (await client.get(POSTS)).json()["total"] == 1

    await purge_expired_posts.kiq(days=-1)  # everything created before tomorrow has expired
    await finish_jobs()
    assert (await client.get(POSTS)).json()["total"] == 0

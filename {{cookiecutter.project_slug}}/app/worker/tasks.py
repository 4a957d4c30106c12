"""The service's jobs: each an ``async def`` decorated with ``@broker.task``, enqueued with ``await task.kiq(...)``.

A job may run more than once (the broker delivers at least once): write each so that a second run changes nothing
the first did not. The worker and the scheduler import this module; see the README's "Adding a job".
{%- if cookiecutter.include_examples == "yes" %}

The worked examples: ``check_post_upstream``, which creating a post enqueues, calls the upstream API through the
service's client; ``purge_expired_posts`` runs every night on a schedule.
{%- endif %}
"""
{%- if cookiecutter.include_examples == "no" %}

from __future__ import annotations

import structlog

from app.worker.broker import broker
from app.worker.schedules import cron

log = structlog.get_logger(__name__)

# What the jobs added below use (the README's "Adding a job" and "Adding a schedule").
__all__ = ["broker", "cron", "log"]
{%- endif %}
{%- if cookiecutter.include_examples == "yes" %}

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import TaskiqDepends

from app.clients.external_api import ExternalAPIClient
from app.models.post import Post
from app.worker.broker import broker
from app.worker.deps import job_external_api, job_session
from app.worker.schedules import cron

log = structlog.get_logger(__name__)

RETENTION_DAYS = 365


@broker.task(task_name="check_post_upstream", retry_on_error=True, max_retries=3)
async def check_post_upstream(post_id: int, external_api: ExternalAPIClient = TaskiqDepends(job_external_api)) -> None:
    """Look a new post up in the upstream API (the worked example of a job that calls an upstream)."""
    resource = await external_api.fetch_resource(f"post-{post_id}")
    log.info("post checked upstream", post_id=post_id, fields=len(resource))


@broker.task(
    task_name="purge_expired_posts",
    schedule=[cron("15 3 * * *", slug="purge-expired-posts", max_runtime=10, kwargs={"days": RETENTION_DAYS})],
)
async def purge_expired_posts(days: int = RETENTION_DAYS, session: AsyncSession = TaskiqDepends(job_session)) -> int:
    """Delete the posts older than ``days`` (the worked example of a scheduled job); return how many went."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    result = await session.execute(delete(Post).where(Post.created_at < cutoff))
    deleted = int(getattr(result, "rowcount", 0) or 0)
    log.info("expired posts purged", deleted=deleted, older_than_days=days)
    return deleted
{%- endif %}

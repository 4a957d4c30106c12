"""What a job may declare, as a route declares its dependencies, provided from the broker's state
(``app.worker.broker``): ``job_settings``, ``job_session``{% if cookiecutter.include_examples == "yes" %} and ``job_external_api``{% endif %}.

A task takes one as a parameter's default (``session: AsyncSession = TaskiqDepends(job_session)``); taskiq
resolves it when the job runs, so it is never part of the message and a caller enqueues the job's own arguments only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import TaskiqDepends, TaskiqState

{% if cookiecutter.include_examples == "yes" -%}
from app.clients.external_api import ExternalAPIClient
{% endif -%}
from app.core.config import Settings


async def job_settings(state: TaskiqState = TaskiqDepends()) -> Settings:
    settings: Settings = state.settings
    return settings


async def job_session(state: TaskiqState = TaskiqDepends()) -> AsyncGenerator[AsyncSession, None]:
    """One session and one transaction per job: committed if the job returns, rolled back if it raises."""
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session
{%- if cookiecutter.include_examples == "yes" %}


async def job_external_api(state: TaskiqState = TaskiqDepends()) -> ExternalAPIClient:
    client: ExternalAPIClient = state.external_api
    return client
{%- endif %}

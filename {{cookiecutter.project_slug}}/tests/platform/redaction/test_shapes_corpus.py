"""The planted-secret corpus, round two: secrets known only by their shape, where service code puts them.

One request plants a vendor token of every family in exception messages, log messages and log fields, sends
percent-encoded secret names in its query string, stores a duplicate key (a unique violation whose PostgreSQL
text quotes the value) and fails with nested exception groups. Every envelope item and every JSON log line is
searched for every marker; the look-alikes must survive. With ``REDACTION_CORPUS_DUMP=<file>`` the events are
written beside that file (``-shapes.json``), for the template's check with Sentry's own scrubber.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.core.config import Settings
from app.db.session import SessionDep
from tests.conftest import MakeSettings
from tests.platform.redaction.test_shapes import SLACK_WEBHOOK, TOKENS
from tests.support.notes import notes
from tests.support.sentry import FAKE_DSN, CapturingTransport

MARKERS = {
    "query: api%5Fkey": "mk80Zq7w",
    "query: client+secret": "mk81Zq7w",
    "unique violation: the duplicate key": "mk82Zq7w",
    "group: the message of a member": "mk83Zq7w",
    "group: a member of a group within the group": "mk84Zq7w",
}
SHAPED = {**TOKENS, "slack webhook": SLACK_WEBHOOK.rsplit("/", 3)[1]}
LOOK_ALIKES = ("skip_live_x", "sk_live_short", "npm_install", "AKIA1234")


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    # Sentry Logs on: every log line is an envelope item too, searched with the rest.
    return make_settings(SENTRY_DSN=FAKE_DSN, SENTRY_TRACES_SAMPLE_RATE=1.0, SENTRY_ENABLE_LOGS=True)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    log = structlog.get_logger("app.shapes")
    families = sorted(TOKENS)

    @app.get("/shapes/plant")
    async def plant(session: SessionDep) -> None:
        for family in families[:4]:
            log.info(f"calling the partner with {TOKENS[family]}")  # noqa: G004  (authors write this)
        for family in families[4:8]:
            log.info("calling the partner", note=TOKENS[family], look_alikes=LOOK_ALIKES)
        logging.getLogger("app.shapes.stdlib").warning("partner hook %s answered 500", SLACK_WEBHOOK)
        duplicate = MARKERS["unique violation: the duplicate key"]
        try:
            await session.execute(insert(notes).values(title=duplicate, body=""))
            await session.execute(insert(notes).values(title=duplicate, body=""))
        except IntegrityError as error:
            log.warning("duplicate note", exc_info=error)
            messages = ", ".join(TOKENS[family] for family in families[8:])
            raise ExceptionGroup(
                f"partners failed: {messages}",
                [
                    RuntimeError(f"login failed: secret={MARKERS['group: the message of a member']}"),
                    ExceptionGroup(
                        "retries failed",
                        [RuntimeError(f"password={MARKERS['group: a member of a group within the group']}")],
                    ),
                ],
            ) from error

    return app


@pytest.fixture
async def planted(
    client: httpx.AsyncClient, sentry_transport: CapturingTransport, log_stream: io.StringIO
) -> tuple[str, str]:
    """Play the corpus once; return (every envelope serialized, every log line)."""
    query = f"api%5Fkey={MARKERS['query: api%5Fkey']}&client+secret={MARKERS['query: client+secret']}&page=2"
    response = await client.get(f"/shapes/plant?{query}")
    assert response.status_code == 500
    sent = sentry_transport.everything_sent()
    dump = os.environ.get("REDACTION_CORPUS_DUMP")
    if dump:
        items = sentry_transport.items("event") + sentry_transport.items("transaction")
        shapes_dump = Path(dump).with_name(f"{Path(dump).stem}-shapes.json")
        shapes_dump.write_text(json.dumps(items), encoding="utf-8")
    return sent, log_stream.getvalue()


def test_no_shaped_secret_reaches_any_envelope_item(
    planted: tuple[str, str], sentry_transport: CapturingTransport
) -> None:
    sent, _ = planted
    assert '"type":"ExceptionGroup"' in sent.replace(" ", ""), "the corpus must produce its event to search"
    assert len(sentry_transport.logs) >= 10, "every line of the corpus must be a Sentry log to search"
    assert [name for name, secret in {**MARKERS, **SHAPED}.items() if secret in sent] == []


def test_no_shaped_secret_reaches_any_log_line(planted: tuple[str, str]) -> None:
    _, logs = planted
    assert "duplicate note" in logs
    assert "retries failed" in logs, "the error line renders the nested groups"
    assert [name for name, secret in {**MARKERS, **SHAPED}.items() if secret in logs] == []


def test_look_alikes_of_the_shapes_survive(planted: tuple[str, str]) -> None:
    sent, logs = planted
    assert all(look_alike in logs for look_alike in LOOK_ALIKES)
    assert all(look_alike in sent for look_alike in LOOK_ALIKES), "the log line is a breadcrumb of the event"


def test_the_query_string_keeps_its_names_and_loses_its_values(
    planted: tuple[str, str], sentry_transport: CapturingTransport
) -> None:
    (event,) = sentry_transport.events
    # A streamed segment carries no query string: the event's is the one to check there.
    for item in (event, *sentry_transport.transactions):
        assert item["request"]["query_string"] == "api%5Fkey=[Filtered]&client+secret=[Filtered]&page=2"

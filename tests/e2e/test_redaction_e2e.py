"""The planted-secret corpus on the wire: a real uvicorn reporting to a real bugsink, with frame locals and tracing on.

One request carries a secret for each family the redaction policy covers (query and header names, body values,
a sensitive path parameter) and asks the e2e route to put more where service code would (log fields, a stdlib
message, tags, extra, a context, a local, an outbound call with credentials, vendor tokens in log messages, fields
and an exception, a unique violation whose PostgreSQL text quotes the duplicate key, a chained exception); one
more request puts a JWT in a path no route matches. No marker may be in a stored event, a raw envelope or the
service's output. It runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest

from .bugsink import Bugsink
from .service import E2E_APP, BakedService, RunningService, ServiceClient

REQUEST_TIMEOUT_SECONDS = 30.0
EVENT_TIMEOUT_SECONDS = 20.0

# Markers the e2e route plants itself (see E2E_APP_SOURCE in tests/e2e/service.py).
ROUTE_PLANTED = (
    "contextvar", "log_password", "log_api_key", "stdlib_bearer", "log_userinfo", "tag", "extra_userinfo",
    "extra_db", "context_bearer", "local_db_url", "outbound_userinfo", "outbound_api_key", "asyncpg",
    "exception_token", "unique_key",
)  # fmt: skip
# Secrets known by their shape alone: the route plants these too.
SHAPED_PLANTED = ("vendor_stripe", "vendor_github", "vendor_aws")
QUERY_NAMES = ("accessToken", "refreshToken", "clientSecret", "apiKey", "key", "code", "sig", "jwt", "otp", "pin")
HEADER_NAMES = ("X-Authentication", "Ocp-Apim-Subscription-Key", "X-Access-Key", "Authorization")


# An AWS key id's alphabet is A-Z and 2-7: hex digits outside it are mapped into it.
AWS_ALPHABET = str.maketrans("0189", "WXYZ")


def luhn_card(prefix: str, length: int = 16) -> str:
    body = prefix.ljust(length - 1, "3")
    for check in "0123456789":
        digits = [int(d) for d in reversed(body + check)]
        if sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


@dataclass
class Corpus:
    secrets: dict[str, str]
    service: RunningService
    events: list[dict[str, object]]
    envelopes: list[bytes]

    def leaked(self, text: str) -> list[str]:
        return [name for name, secret in self.secrets.items() if secret in text]


def plant() -> dict[str, str]:
    run = uuid.uuid4().hex[:6]
    names = [*ROUTE_PLANTED, *(f"query {n}" for n in QUERY_NAMES), *(f"header {n}" for n in HEADER_NAMES)]
    names += ["path token", "body password", "body bearer", "body conn", "body endpoint", "body comment"]
    secrets = {name: f"e2e{index:02d}Zq7w{run}" for index, name in enumerate(names)}
    secrets |= {"log_card": luhn_card("4000002"), "exception_card": luhn_card("5500003")}
    secrets["body card"] = luhn_card("4000004")
    secrets["unmatched path jwt"] = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{run}In0.c2ln{run}"
    secrets["vendor_stripe"] = f"sk_live_e2eZq7w{run}".ljust(32, "x")
    secrets["vendor_github"] = f"ghp_e2eZq7w{run}".ljust(40, "x")
    secrets["vendor_aws"] = f"AKIA{uuid.uuid4().hex.upper().translate(AWS_ALPHABET)}"[:20]
    return secrets


@pytest.fixture(scope="module")
def corpus(
    bugsink: Bugsink, baked_service: BakedService, service_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Corpus:
    dsn = bugsink.create_project(f"redaction-{uuid.uuid4().hex[:8]}")
    secrets = plant()
    query = {name: secrets[f"query {name}"] for name in QUERY_NAMES} | {"page": "2"}
    headers = {name: secrets[f"header {name}"] for name in HEADER_NAMES}
    headers["Authorization"] = f"Bearer {headers['Authorization']}"
    # The secrets the route plants travel in a header whose name the policy knows, so the request itself hides them.
    route_planted = {name: secrets[name] for name in (*ROUTE_PLANTED, *SHAPED_PLANTED, "log_card", "exception_card")}
    headers["X-Corpus-Secrets"] = json.dumps(route_planted)
    body = {
        "password": secrets["body password"],
        "bearer": secrets["body bearer"],
        "conn": f"Server=db;Password={secrets['body conn']};Database=app",
        "endpoint": f"http://admin:{secrets['body endpoint']}@internal.example/",
        "comment": f"sent with Bearer {secrets['body comment']}",
        "note": f"card {secrets['body card']}",
    }
    with baked_service.run(
        tmp_path_factory.mktemp("redaction"),
        app=E2E_APP,
        SENTRY_DSN=dsn,
        DATABASE_URL=service_database,
        SENTRY_INCLUDE_LOCALS="true",
        SENTRY_TRACES_SAMPLE_RATE="1.0",
    ) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            planted = client.post(f"/e2e/corpus/{secrets['path token']}", params=query, headers=headers, json_body=body)
            unmatched = client.get(f"/no-such-route/{secrets['unmatched path jwt']}")
        service.stop()
    assert (planted.status_code, unmatched.status_code) == (500, 404)
    events = bugsink.wait_for_events(dsn, 1, timeout=EVENT_TIMEOUT_SECONDS)
    envelopes = bugsink.wait_for_envelopes(dsn, 2, timeout=EVENT_TIMEOUT_SECONDS)  # the error and its transaction
    return Corpus(secrets, service, events, envelopes)


def test_the_corpus_request_was_reported_with_its_request_and_breadcrumbs(corpus: Corpus) -> None:
    (event,) = corpus.events
    assert "request" in event
    assert event["breadcrumbs"], "log lines and the outbound call are breadcrumbs"


def test_no_marker_is_in_a_stored_event(corpus: Corpus) -> None:
    assert corpus.leaked(json.dumps(corpus.events)) == []


def test_no_marker_is_in_a_raw_envelope(corpus: Corpus) -> None:
    assert corpus.leaked(b"\n".join(corpus.envelopes).decode("utf-8", errors="replace")) == []


def test_no_marker_is_in_the_services_output(corpus: Corpus) -> None:
    output = corpus.service.stdout() + corpus.service.stderr()
    assert "charging" in output, "the route's log lines are in the output"
    assert "duplicate post" in output, "the unique violation is logged with its exception"
    assert corpus.leaked(output) == []

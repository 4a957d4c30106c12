"""The baked service as users run it: `uvicorn` on 127.0.0.1 reporting to a real bugsink, on SQLite and PostgreSQL.

Each fixture plays one scenario against a fresh service process and a bugsink project of its own, then stops the
service with SIGTERM (its lifespan flushes Sentry) and hands over what happened: the responses, what bugsink
stored and what the service logged. Each test checks one behaviour of that record.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from .bugsink import Bugsink
from .envelopes import parse_envelope
from .service import E2E_APP, BakedService, FailingUpstream, Response, RunningService, ServiceClient

# What `cookiecutter --no-input` answers: project_slug "my-service", version "0.1.0".
RELEASE = "my-service@0.1.0"
FILTERED = "[Filtered]"
REQUEST_TIMEOUT_SECONDS = 30.0
EVENT_TIMEOUT_SECONDS = 20.0
SENDER_THREAD_LOGGERS = ("urllib3", "sentry_sdk")
SIGTERM_MESSAGES = ("draining before shutdown", "Shutting down")


@dataclass
class Scenario:
    """What one service run did: the responses by name, what bugsink stored, and the process with its logs."""

    dsn: str
    service: RunningService
    responses: dict[str, Response]
    events: list[dict[str, Any]]

    def event_for(self, name: str) -> dict[str, Any]:
        """The stored event whose id the response `name` returned."""
        event_id = self.responses[name].json()["event_id"]
        found = [event for event in self.events if event["event_id"] == event_id]
        assert len(found) == 1, f"{name}: {len(found)} stored events have the id {event_id} it returned"
        return found[0]

    def log_records(self) -> list[dict[str, Any]]:
        return self.service.log_records()


def new_project(bugsink: Bugsink, scenario: str) -> str:
    return bugsink.create_project(f"{scenario}-{uuid.uuid4().hex[:8]}")


def serving_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines logged inside requests: between uvicorn's start-up and SIGTERM, but not by the SDK's sender.

    Sentry's transport sends from a thread of its own, and urllib3 logs there when a send is retried. SIGTERM is
    where the service starts draining (app.core.shutdown), before uvicorn says it is shutting down.
    """
    messages = [str(record.get("event")) for record in records]
    started = next(n for n, message in enumerate(messages) if message.startswith("Uvicorn running on"))
    stopping = next(n for n, message in enumerate(messages) if message in SIGTERM_MESSAGES)
    return [
        record
        for record in records[started + 1 : stopping]
        if not str(record.get("logger")).startswith(SENDER_THREAD_LOGGERS)
    ]


def event_items(envelopes: list[bytes]) -> list[dict[str, Any]]:
    """Every error or message event sent on the wire, parsed."""
    return [item.json() for raw in envelopes for item in parse_envelope(raw).items if item.type == "event"]


# --- Delivery: each kind of server error arrives once, with what a person needs to act on it ------------------


@dataclass(frozen=True)
class Failure:
    """A request that fails on the server, and what its stored event must say."""

    path: str
    status: int
    exception: str
    """The exception as Sentry titles it, `Type: value`, as a regular expression."""
    transaction: str


FAILURES = {
    "sentry_debug": Failure("/sentry-debug", 500, "ZeroDivisionError: division by zero", "/sentry-debug"),
    "signed_in_user": Failure(
        "/e2e/users/user-4711/failure",
        500,
        "RuntimeError: e2e: unexpected failure for a signed-in user",
        "/e2e/users/{user_id}/failure",
    ),
    "upstream_500": Failure(
        "/api/v1/external/resources/item-1",
        503,
        r"ExternalServiceError: example-api \(127\.0\.0\.1:\d+\) answered HTTP 500",  # the upstream's host named
        "/api/v1/external/resources/{resource_id}",
    ),
}
SIGNED_IN_USER = "user-4711"


@pytest.fixture(scope="module")
def delivery(
    bugsink: Bugsink,
    baked_service: BakedService,
    service_database: str,
    failing_upstream: FailingUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scenario:
    """Each of FAILURES once: an unhandled error, a signed-in user's unhandled error, a failing upstream API."""
    dsn = new_project(bugsink, "delivery")
    with baked_service.run(
        tmp_path_factory.mktemp("delivery"),
        app=E2E_APP,
        SENTRY_DSN=dsn,
        DATABASE_URL=service_database,
        EXTERNAL_API_BASE_URL=failing_upstream.url,
    ) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            responses = {name: client.get(failure.path) for name, failure in FAILURES.items()}
        service.stop()
    events = bugsink.wait_for_events(dsn, len(FAILURES), timeout=EVENT_TIMEOUT_SECONDS)
    return Scenario(dsn, service, responses, events)


def test_server_errors_answer_with_the_error_envelope_and_an_event_id(delivery: Scenario) -> None:
    for name, failure in FAILURES.items():
        response = delivery.responses[name]
        assert response.status_code == failure.status, name
        assert set(response.json()) == {"error", "message", "details", "request_id", "event_id"}, name


def test_each_server_error_is_stored_exactly_once_under_the_event_id_it_returned(delivery: Scenario) -> None:
    returned = sorted(response.json()["event_id"] for response in delivery.responses.values())
    assert sorted(event["event_id"] for event in delivery.events) == returned


def test_each_stored_event_holds_the_exception_that_was_raised(delivery: Scenario) -> None:
    for name, failure in FAILURES.items():
        raised = delivery.event_for(name)["exception"]["values"][-1]
        assert re.fullmatch(failure.exception, f"{raised['type']}: {raised['value']}"), (name, raised)


def test_stored_events_carry_the_environment_and_the_release(delivery: Scenario) -> None:
    assert {(event["environment"], event["release"]) for event in delivery.events} == {("staging", RELEASE)}


def test_stored_events_are_tagged_with_the_request_id_of_their_response(delivery: Scenario) -> None:
    for name, response in delivery.responses.items():
        request_id = response.headers["X-Request-ID"]
        assert response.json()["request_id"] == request_id, name
        assert delivery.event_for(name)["tags"]["request_id"] == request_id, name


def test_stored_events_are_named_after_the_route_that_failed(delivery: Scenario) -> None:
    for name, failure in FAILURES.items():
        assert delivery.event_for(name)["transaction"] == failure.transaction, name


def test_the_signed_in_users_id_is_on_their_event(delivery: Scenario) -> None:
    assert delivery.event_for("signed_in_user")["user"] == {"id": SIGNED_IN_USER}


def test_no_user_is_on_events_of_requests_that_set_none(delivery: Scenario) -> None:
    for name in ("sentry_debug", "upstream_500"):
        assert "user" not in delivery.event_for(name), name


# --- Logs: JSON lines that lead to the Sentry event ---------------------------------------------------------


def test_every_line_the_service_wrote_to_stdout_is_a_json_object(delivery: Scenario) -> None:
    lines = delivery.service.log_lines()
    assert lines
    not_json = []
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                not_json.append(line)
        except ValueError:
            not_json.append(line)
    assert not_json == []


def test_the_service_writes_nothing_to_stderr(delivery: Scenario) -> None:
    assert delivery.service.stderr() == ""


def test_every_line_logged_while_serving_carries_a_request_id(delivery: Scenario) -> None:
    serving = serving_records(delivery.log_records())
    assert serving
    assert [record for record in serving if not record.get("request_id")] == []


def test_each_request_is_logged_under_the_request_id_it_answered_with(delivery: Scenario) -> None:
    logged = {record["request_id"] for record in serving_records(delivery.log_records())}
    assert {response.headers["X-Request-ID"] for response in delivery.responses.values()} <= logged


def test_each_error_log_line_carries_the_trace_id_of_its_stored_event(delivery: Scenario) -> None:
    records = delivery.log_records()
    for name, response in delivery.responses.items():
        event = delivery.event_for(name)
        [line] = [record for record in records if record.get("event_id") == event["event_id"]]
        assert line["level"] == "error", name
        assert line["request_id"] == response.headers["X-Request-ID"], name
        assert line["trace_id"] == event["contexts"]["trace"]["trace_id"], name


# --- Silence: what is the client's business, or routine, never reaches Sentry -------------------------------


@pytest.fixture(scope="module")
def silence(
    bugsink: Bugsink, baked_service: BakedService, service_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    """4xx answers of every kind and both health checks, then one /sentry-debug as the marker."""
    dsn = new_project(bugsink, "silence")
    title = f"e2e post {uuid.uuid4().hex}"
    workdir = tmp_path_factory.mktemp("silence")
    with baked_service.run(workdir, SENTRY_DSN=dsn, DATABASE_URL=service_database) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            responses = {
                "unknown route 404": client.get("/api/v1/nowhere"),
                "missing post 404": client.get("/api/v1/posts/987654321"),
                "wrong method 405": client.delete("/health/live"),
                "first post 201": client.post("/api/v1/posts", json_body={"title": title}),
                "duplicate title 409": client.post("/api/v1/posts", json_body={"title": title}),
                "invalid body 422": client.post("/api/v1/posts", json_body={"title": "", "unknown": 1}),
                "bad query 422": client.get("/api/v1/posts", params={"limit": "0"}),
                "liveness 200": client.get("/health/live"),
                "readiness 200": client.get("/health/ready"),
                "marker": client.get("/sentry-debug"),
            }
        service.stop()
    events = bugsink.wait_for_events(dsn, 1, timeout=EVENT_TIMEOUT_SECONDS)
    return Scenario(dsn, service, responses, events)


def test_requests_meant_to_be_silent_got_the_status_they_stand_for(silence: Scenario) -> None:
    for name, response in silence.responses.items():
        if name != "marker":
            assert response.status_code == int(name.rsplit(" ", 1)[-1]), f"{name}: {response.text}"


def test_4xx_and_health_checks_store_no_event(silence: Scenario) -> None:
    marker = silence.responses["marker"].json()["event_id"]
    assert [event["event_id"] for event in silence.events] == [marker]


def test_4xx_and_health_checks_send_no_event_over_the_wire(bugsink: Bugsink, silence: Scenario) -> None:
    marker = silence.responses["marker"].json()["event_id"]
    sent = event_items(bugsink.wait_for_envelopes(silence.dsn, 1, timeout=EVENT_TIMEOUT_SECONDS))
    assert [event["event_id"] for event in sent] == [marker]


# --- Grouping: what a person sees in the issue list ---------------------------------------------------------


@dataclass
class Grouping:
    issue_counts_after_each_repeat: list[list[int]]
    repeated_event_ids: list[str]
    issues: list[dict[str, Any]]


@pytest.fixture(scope="module")
def grouping(
    bugsink: Bugsink, baked_service: BakedService, service_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Grouping:
    """/sentry-debug three times, reading the issue list after each, then one different error."""
    dsn = new_project(bugsink, "grouping")
    counts: list[list[int]] = []
    repeated: list[str] = []
    with baked_service.run(
        tmp_path_factory.mktemp("grouping"), app=E2E_APP, SENTRY_DSN=dsn, DATABASE_URL=service_database
    ) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            for repeat in range(1, 4):
                repeated.append(client.get("/sentry-debug").json()["event_id"])
                bugsink.wait_for_events(dsn, repeat, timeout=EVENT_TIMEOUT_SECONDS)
                counts.append([issue["event_count"] for issue in bugsink.issues(dsn)])
            client.get("/e2e/users/user-1/failure")
        service.stop()
    bugsink.wait_for_events(dsn, 4, timeout=EVENT_TIMEOUT_SECONDS)
    return Grouping(counts, repeated, bugsink.issues(dsn))


def test_the_same_error_raised_again_grows_the_count_of_one_issue(grouping: Grouping) -> None:
    assert grouping.issue_counts_after_each_repeat == [[1], [2], [3]]
    [repeated_issue] = [issue for issue in grouping.issues if issue["type"] == "ZeroDivisionError"]
    assert repeated_issue["event_ids"] == grouping.repeated_event_ids


def test_two_different_errors_are_two_issues(grouping: Grouping) -> None:
    counts = sorted((issue["type"], issue["event_count"]) for issue in grouping.issues)
    assert counts == [("RuntimeError", 1), ("ZeroDivisionError", 3)]


# --- Scrubbing on the wire: secrets never leave the process, nor reach the logs -----------------------------


@dataclass
class Scrubbing:
    secrets: dict[str, str]
    scenario: Scenario
    envelopes: list[bytes]


CARD_NUMBER = "4242 4242 4242 4242"


def plant_secrets() -> dict[str, str]:
    names = (
        "authorization", "cookie_session", "cookie_csrf", "x_api_key", "x_auth_token",
        "query_token", "query_api_key", "query_password",
        "body_password", "body_new_password", "body_client_secret", "body_refresh_token",
    )  # fmt: skip
    return {name: f"e2e-secret-{name.replace('_', '-')}-{uuid.uuid4().hex}" for name in names}


def leaked(secrets: dict[str, str], text: str) -> list[str]:
    """The names of the secrets found in `text`, the card number included in both its spellings."""
    found = [name for name, value in secrets.items() if value in text]
    if CARD_NUMBER in text or CARD_NUMBER.replace(" ", "") in text:
        found.append("card_number")
    return found


def sent_text(envelopes: list[bytes]) -> str:
    return b"\n".join(envelopes).decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def scrubbing(
    bugsink: Bugsink, baked_service: BakedService, service_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Scrubbing:
    """Two failing requests carrying secrets in headers, cookies, query and body; frame locals sent with errors."""
    dsn = new_project(bugsink, "scrubbing")
    secrets = plant_secrets()
    headers = {
        "Authorization": f"Bearer {secrets['authorization']}",
        "Cookie": f"session={secrets['cookie_session']}; csrftoken={secrets['cookie_csrf']}; theme=dark",
        "X-Api-Key": secrets["x_api_key"],
        "X-Auth-Token": secrets["x_auth_token"],
    }
    query = {
        "token": secrets["query_token"],
        "api_key": secrets["query_api_key"],
        "password": secrets["query_password"],
        "page": "2",
    }
    body = {
        "user": {"name": "ada", "password": secrets["body_password"], "new_password": secrets["body_new_password"]},
        "oauth": {"client_secret": secrets["body_client_secret"], "refresh_token": secrets["body_refresh_token"]},
        "payment": {"card_number": CARD_NUMBER},
        "note": "harmless",
    }
    with baked_service.run(
        tmp_path_factory.mktemp("scrubbing"),
        app=E2E_APP,
        SENTRY_DSN=dsn,
        DATABASE_URL=service_database,
        SENTRY_INCLUDE_LOCALS="true",
    ) as service:
        with ServiceClient(service.url, REQUEST_TIMEOUT_SECONDS) as client:
            responses = {
                "query": client.get("/sentry-debug", params=query, headers=headers),
                "body": client.post("/e2e/failure-holding-secrets", params=query, headers=headers, json_body=body),
            }
        service.stop()
    events = bugsink.wait_for_events(dsn, len(responses), timeout=EVENT_TIMEOUT_SECONDS)
    envelopes = bugsink.raw_envelopes(dsn)
    return Scrubbing(secrets, Scenario(dsn, service, responses, events), envelopes)


def test_requests_carrying_secrets_were_reported_as_server_errors(scrubbing: Scrubbing) -> None:
    assert [response.status_code for response in scrubbing.scenario.responses.values()] == [500, 500]
    assert len(event_items(scrubbing.envelopes)) == len(scrubbing.scenario.responses)


def test_planted_secrets_are_in_no_stored_event(scrubbing: Scrubbing) -> None:
    assert leaked(scrubbing.secrets, json.dumps(scrubbing.scenario.events)) == []


def test_planted_secrets_are_in_no_envelope_sent(scrubbing: Scrubbing) -> None:
    assert leaked(scrubbing.secrets, sent_text(scrubbing.envelopes)) == []


def test_planted_secrets_are_in_no_line_the_service_logged(scrubbing: Scrubbing) -> None:
    service = scrubbing.scenario.service
    assert leaked(scrubbing.secrets, service.stdout() + service.stderr()) == []


def test_secret_headers_arrive_as_filtered_placeholders(scrubbing: Scrubbing) -> None:
    for name in scrubbing.scenario.responses:
        headers = scrubbing.scenario.event_for(name)["request"]["headers"]
        sent = {key: headers.get(key) for key in ("authorization", "cookie", "x-api-key", "x-auth-token")}
        assert sent == dict.fromkeys(sent, FILTERED), name


def test_secret_query_parameters_arrive_filtered_and_the_others_intact(scrubbing: Scrubbing) -> None:
    for name in scrubbing.scenario.responses:
        query_string = scrubbing.scenario.event_for(name)["request"]["query_string"]
        assert query_string == "token=[Filtered]&api_key=[Filtered]&password=[Filtered]&page=2", name


def test_secret_body_fields_arrive_filtered_at_any_depth(scrubbing: Scrubbing) -> None:
    data = scrubbing.scenario.event_for("body")["request"]["data"]
    assert data["user"] == {"name": "ada", "password": FILTERED, "new_password": FILTERED}
    assert data["oauth"] == {"client_secret": FILTERED, "refresh_token": FILTERED}
    assert data["payment"] == {"card_number": FILTERED}
    assert data["note"] == "harmless"


def test_frames_outside_the_app_package_are_not_in_app_and_send_no_locals(scrubbing: Scrubbing) -> None:
    frames = scrubbing.scenario.event_for("body")["exception"]["values"][-1]["stacktrace"]["frames"]
    [route] = [frame for frame in frames if frame["function"] == "fail_holding_secrets"]  # e2e_app.py, not app/
    assert not route.get("in_app")
    assert "vars" not in route
    assert [frame for frame in frames if frame.get("in_app") and "vars" in frame], "the service's frames keep locals"

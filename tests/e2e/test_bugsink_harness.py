"""The harness itself: what a real sentry-sdk sends to bugsink comes back out of the fixture unchanged."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from .bugsink import Bugsink
from .envelopes import parse_envelope
from .sentry_down import BlackHole

SDK_PRELUDE = """
import json, sys
import sentry_sdk

sentry_sdk.init(dsn=sys.argv[1], environment="e2e", release="x@1")

def fail(exc_type, message):
    try:
        raise exc_type(message)
    except exc_type as exc:
        return sentry_sdk.capture_exception(exc)
"""

CAPTURE_ERRORS = """
repeated = [fail(ValueError, "repeated failure") for _ in range(3)]
single = fail(KeyError, "single failure")
sentry_sdk.flush(timeout=10)
print(json.dumps({"repeated": repeated, "single": single}))
"""

CAPTURE_MESSAGE = """
event_id = sentry_sdk.capture_message("harness says hello", level="warning")
sentry_sdk.flush(timeout=10)
print(json.dumps({"message": event_id}))
"""


def run_sdk(dsn: str, body: str) -> dict[str, Any]:
    """Run `body` in a fresh Python with sentry-sdk initialised against `dsn`; return the JSON it prints."""
    result = subprocess.run(
        [sys.executable, "-c", SDK_PRELUDE + body, dsn],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


@pytest.fixture(scope="module")
def errors_sent(bugsink: Bugsink) -> tuple[str, dict[str, Any]]:
    """One project that received the same ValueError three times and a KeyError once."""
    dsn = bugsink.create_project("harness-errors")
    return dsn, run_sdk(dsn, CAPTURE_ERRORS)


def test_captured_exceptions_are_stored_with_their_event_ids(
    bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]
) -> None:
    dsn, sent = errors_sent
    events = bugsink.wait_for_events(dsn, 4)
    assert [event["event_id"] for event in events] == [*sent["repeated"], sent["single"]]


def test_stored_events_carry_environment_and_release(bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]) -> None:
    dsn, _ = errors_sent
    events = bugsink.wait_for_events(dsn, 4)
    assert {(event["environment"], event["release"]) for event in events} == {("e2e", "x@1")}


def test_stored_event_holds_the_exception_as_sent(bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]) -> None:
    dsn, sent = errors_sent
    bugsink.wait_for_events(dsn, 4)
    event = bugsink.event(dsn, sent["single"])
    assert event is not None
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("KeyError", "'single failure'")
    assert exception["stacktrace"]["frames"][-1]["function"] == "fail"


def test_repeated_error_is_one_issue_with_three_events(
    bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]
) -> None:
    dsn, sent = errors_sent
    bugsink.wait_for_events(dsn, 4)
    issues = bugsink.issues(dsn)
    assert [(issue["title"], issue["event_count"], issue["event_ids"]) for issue in issues] == [
        ("ValueError: repeated failure", 3, sent["repeated"]),
        ("KeyError: 'single failure'", 1, [sent["single"]]),
    ]


def test_raw_envelopes_hold_exactly_what_was_stored(bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]) -> None:
    dsn, _ = errors_sent
    stored = {event["event_id"]: event for event in bugsink.wait_for_events(dsn, 4)}
    envelopes = [parse_envelope(raw) for raw in bugsink.wait_for_envelopes(dsn, 4)]
    sent_events = [item.json() for envelope in envelopes for item in envelope.items if item.type == "event"]
    assert {event["event_id"]: event for event in sent_events} == stored


def test_captured_message_is_stored_as_its_own_issue(bugsink: Bugsink) -> None:
    dsn = bugsink.create_project("harness-message")
    sent = run_sdk(dsn, CAPTURE_MESSAGE)
    [event] = bugsink.wait_for_events(dsn, 1)
    assert (event["event_id"], event["message"], event["level"]) == (
        sent["message"],
        "harness says hello",
        "warning",
    )
    assert [(issue["title"], issue["event_count"]) for issue in bugsink.issues(dsn)] == [
        ("Log Message: harness says hello", 1)
    ]


def test_projects_do_not_see_each_others_events(bugsink: Bugsink, errors_sent: tuple[str, dict[str, Any]]) -> None:
    bugsink.wait_for_events(errors_sent[0], 4)
    dsn = bugsink.create_project("harness-empty")
    assert (bugsink.events(dsn), bugsink.issues(dsn), bugsink.raw_envelopes(dsn)) == ([], [], [])


def test_wait_for_events_gives_up_after_its_timeout(bugsink: Bugsink) -> None:
    dsn = bugsink.create_project("harness-silent")
    started = time.monotonic()
    with pytest.raises(AssertionError, match="expected at least 1 events, found 0"):
        bugsink.wait_for_events(dsn, 1, timeout=0.3)
    assert time.monotonic() - started < 5


def test_black_hole_accepts_and_never_answers(black_hole: BlackHole) -> None:
    with socket.create_connection(("127.0.0.1", black_hole.port), timeout=5) as client:
        client.sendall(b"POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            client.recv(1)
    assert black_hole.connections == 1


def test_black_hole_is_gone_after_teardown() -> None:
    with BlackHole() as hole:
        port = hole.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_closed_port_refuses_connections(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=5).close()

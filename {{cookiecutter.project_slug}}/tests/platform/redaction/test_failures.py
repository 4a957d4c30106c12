"""Scrubbing never raises and never drops an event: not on hostile values, not when a part of it fails."""

from __future__ import annotations

from typing import Any

import pytest

from app.core import redaction, sentry
from app.core.redaction import _events

# One secret in each part of an event that the fallback for a failing scrubber must strip.
STRIPPED_SECRETS = {
    "header": "Bearer sk-live-authorization-1111",
    "extra": "body-password-9999",
    "breadcrumb": "4111 1111 1111 1111",
    "exception": "client-secret-1212",
    "frame_local": "frame-local-token-1414",
}


class HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"password": "deep-secret-1"}
    for _ in range(depth):
        value = {"level": value}
    return value


HOSTILE_VALUES: list[Any] = [
    "http://[Filtered]:[Filtered]@api.example.com/x?token=t0ken-1",
    "http://host:99999999/x?password=pw-1",
    "http://[::1/x?api_key=k-1",
    b"password=pw-1\xff\xfe",
    "password=pw-1 " + "x" * 1_000_000,
    nested(1000),
    HostileRepr(),
    {HostileRepr(): "x", b"api_key": "k-1", 3: None},
]


@pytest.mark.parametrize(
    "value", HOSTILE_VALUES, ids=["filtered-host", "bad-port", "bad-ipv6", "bytes", "megabyte", "deep", "repr", "keys"]
)
def test_rules_never_raise_on_hostile_input(value: Any) -> None:
    result = redaction.redact(value)
    for secret in ("t0ken-1", "pw-1", "k-1", "deep-secret-1"):
        assert secret not in repr(result)[:2_000_000]


@pytest.mark.parametrize(
    "value", HOSTILE_VALUES, ids=["filtered-host", "bad-port", "bad-ipv6", "bytes", "megabyte", "deep", "repr", "keys"]
)
def test_event_scrubbing_never_raises_and_keeps_the_event(value: Any) -> None:
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "request": {"url": value if isinstance(value, str) else "http://h/", "data": value},
        "breadcrumbs": {"values": [{"category": "httplib", "data": {"url": value}, "message": value}]},
        "extra": {"anything": value},
        "spans": [{"description": value, "data": {"url": value}}],
        "tags": {"where": value},
    }
    result = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert result is not None
    assert "scrubbing_failed" not in result.get("tags", {})
    assert {"request", "breadcrumbs", "extra", "spans"} <= result.keys()


def test_a_failing_part_costs_that_part_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("bug in one scrubber")

    monkeypatch.setitem(_events._SECTIONS, "extra", broken)
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "extra": {"x": "y"},
        "request": {"url": "http://h/?card=4111111111111111"},
    }
    result = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert result is not None
    assert "extra" not in result
    assert result["request"]["url"] == "http://h/?card=[Filtered]"
    assert result["tags"]["scrubbing_failed"] == "true"


@pytest.mark.parametrize("exception_values", [[None], "not a list"])
def test_scrubber_failure_sends_a_stripped_event_instead_of_dropping_it(
    monkeypatch: pytest.MonkeyPatch, exception_values: Any
) -> None:
    def broken_scrubber(event: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(sentry, "scrub_event", broken_scrubber)
    event: dict[str, Any] = {
        "event_id": "a" * 32,
        "level": "error",
        "request": {"headers": {"authorization": STRIPPED_SECRETS["header"]}},
        "extra": {"anything": STRIPPED_SECRETS["extra"]},
        "breadcrumbs": {"values": [{"message": STRIPPED_SECRETS["breadcrumb"]}]},
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": STRIPPED_SECRETS["exception"],
                    "stacktrace": {"frames": [{"function": "f", "vars": {"x": STRIPPED_SECRETS["frame_local"]}}]},
                },
            ]
        },
    }
    malformed = {**event, "exception": {"values": exception_values}}
    for candidate in (event, malformed):
        result = sentry.before_send(candidate, {})  # type: ignore[arg-type]
        assert result is not None, "a scrubber failure must not drop the event"
        assert result["tags"]["scrubbing_failed"] == "true"
        for secret in STRIPPED_SECRETS.values():
            assert secret not in repr(result)
    stripped = sentry.before_send(event, {})  # type: ignore[arg-type]
    assert stripped is not None
    assert stripped["exception"]["values"][0]["type"] == "RuntimeError"
    assert stripped["exception"]["values"][0]["stacktrace"]["frames"] == [{"function": "f"}]

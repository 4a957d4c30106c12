"""Hostile input never stalls the service: every text rule is linear in what it reads, and no rule reads far.

Each regular expression of the redaction policy and of the server's rules is run over texts built to make a
backtracking engine start a match at every position and re-read the rest: 100 KB of such text must cost about
ten times what 10 KB costs, not a hundred. This is a complexity test with a generous bound, not a benchmark.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from types import ModuleType

import httpx
import pytest

from app.core.redaction import FILTERED, MAX_TEXT_LENGTH, _names, _server_rules, _text, _token_shapes, redact_text
from app.core.redaction._text import apply_value_rules
from app.middleware.request_context import MAX_LOGGED_PATH
from tests.conftest import Events

SMALL, LARGE = 10_000, 100_000
# Linear work grows tenfold from SMALL to LARGE and quadratic work a hundredfold: the bound leaves room for a busy
# machine. Times are the process's own CPU time, which other processes do not inflate; below FLOOR_SECONDS a
# measurement says nothing about the work.
MAX_GROWTH = 30
FLOOR_SECONDS = 0.003
# (prefix, unit): the unit repeated after the prefix to the text's length. Each makes some rule's start or repeat
# fire over and over: runs of word and "-.+" characters, separators, quotes, keywords, half-written secrets.
HOSTILE = (
    ("x@://a", "a."),  # URL credentials: a scheme could start at every "a"
    ("", "a."),
    ("", "a-"),
    ("", "a+"),
    ("", "a_"),
    ("", "-eyJa"),  # JWT: a header could start at every "eyJ"
    ("eyJaaaa.", "eyJa-"),
    ("eyJaaaa.eyJaaaa", "a"),
    ("", "token"),  # the server's "token...=" could start at every "token"
    ("", "Token."),
    ("", "a://"),
    ("", "//a"),
    ("", "//a:a"),
    ("//", "a%"),
    ("", "a:"),
    ("", "a="),
    ("", "="),
    ("", ":"),
    ("a", " "),
    ("", "1 "),  # card numbers
    ("", "1-"),
    ("", "1"),
    ("", "password "),
    ("", "pin 1"),
    ("", "bearer "),
    ("Bearer", " "),
    ("", "Basic "),
    ("password=", "'"),
    ("password='", "\\'"),
    ('password="', "a"),
    ("", "password='"),
    ("", "query argument $1: '"),
    ("query argument $1: '", "a"),
    ("", "-----BEGIN PRIVATE KEY-----"),
    ("-----BEGIN ", "A"),
    ("-----BEGIN PRIVATE KEY-----", "-----END A"),
    ("", "123-45-678"),
    ("", "1.1.1."),
    ("", "aB"),
    ("", "AAAa"),
    ("", "Key ("),  # database texts that quote a value
    ("Key (", "a"),
    ("", "Key (a)=("),
    ("Failing row contains (", "(a"),
    ("", 'invalid input syntax for type uuid: "'),
    ('invalid input syntax for type uuid: "', "\\"),
    ("", "sk_live_"),  # vendors' token shapes
    ("sk_live_", "a"),
    ("", "ghp_a"),
    ("", "xoxb-"),
    ("xoxb-", "a-"),
    ("hooks.slack.com/services/", "a/"),
    ("", "AKIA"),
    ("", "AIza-"),
    ("api", "%5F"),  # percent-encoded names
    ("", "%"),
)


def hostile_text(prefix: str, unit: str, size: int, *, reverse: bool) -> str:
    text = (prefix + unit * (size // len(unit) + 1))[:size]
    return text[::-1] if reverse else text  # the pair rule reads names backwards


def rules_of(*modules: ModuleType) -> dict[str, re.Pattern[str]]:
    """Every compiled text rule of these modules, found by looking, so that a rule added later is held too."""
    return {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}": value
        for module in modules
        for name, value in vars(module).items()
        if isinstance(value, re.Pattern) and isinstance(value.pattern, str)
    }


# The two halves of the pair rule are matched only at a separator, never searched for: they are held to linearity
# through the pair rule as a whole (the last tests here), where each separator's name and value are read once.
ANCHORED = frozenset({"_text._NAME_BEFORE", "_text._VALUE_AFTER"})
RULES = {
    name: rule for name, rule in rules_of(_text, _token_shapes, _server_rules, _names).items() if name not in ANCHORED
}


def seconds(work: Callable[[str], object], text: str, *, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.process_time()
        work(text)
        best = min(best, time.process_time() - began)
    return best


def assert_linear(work: Callable[[str], object]) -> None:
    for prefix, unit in HOSTILE:
        for reverse in (False, True):
            small = max(seconds(work, hostile_text(prefix, unit, SMALL, reverse=reverse), runs=3), FLOOR_SECONDS)
            large_text = hostile_text(prefix, unit, LARGE, reverse=reverse)
            large = seconds(work, large_text, runs=1)
            if large > MAX_GROWTH * small:  # a busy moment, or real growth: measure once more
                large = seconds(work, large_text, runs=3)
            assert large <= MAX_GROWTH * small, (
                f"{prefix!r} + {unit!r}*n{' reversed' if reverse else ''}: {SMALL} chars in {small:.4f} s, "
                f"{LARGE} in {large:.4f} s"
            )


def test_the_policy_and_the_server_rules_have_rules_to_check() -> None:
    assert {"_text._JWT", "_text._URL_USERINFO", "_server_rules._SERVER_FILTER"} <= RULES.keys()
    assert rules_of(_text).keys() >= ANCHORED


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_rule_is_linear_in_its_input(name: str) -> None:
    rule = RULES[name]
    assert_linear(lambda text: rule.sub("", text))  # every start position, as any use of the rule may try


def test_the_whole_policy_is_linear_in_its_input() -> None:
    assert_linear(apply_value_rules)


def test_a_text_over_the_cap_is_cut_and_its_tail_never_passed_on() -> None:
    secret = "password=hunter2-in-the-tail"
    redacted = redact_text("a." * MAX_TEXT_LENGTH + secret)
    assert "hunter2" not in redacted
    assert redacted.startswith("a.a.")
    assert redacted.endswith(f"[{MAX_TEXT_LENGTH + len(secret)} more characters cut]")


def test_a_secret_inside_the_cap_is_still_filtered() -> None:
    assert redact_text("x" * 1000 + " password=hunter2 " + "y" * MAX_TEXT_LENGTH).count(FILTERED) == 1


def test_redact_text_as_callers_use_it_is_linear() -> None:
    assert_linear(redact_text)


async def test_a_long_unmatched_path_is_cut_before_the_access_line_reads_it(
    client: httpx.AsyncClient, log_stream: io.StringIO, events: Events
) -> None:
    path = "/x@://a" + "a." * 32_000 + "/password=hunter2"
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
    (access,) = [line for line in map(json.loads, log_stream.getvalue().splitlines()) if line["event"] == "request"]
    assert access["path"].startswith("/x@://aa.a.")
    assert access["path"].endswith(f"[{len(path) - MAX_LOGGED_PATH} more characters cut]")
    assert "hunter2" not in log_stream.getvalue()
    assert events() == []

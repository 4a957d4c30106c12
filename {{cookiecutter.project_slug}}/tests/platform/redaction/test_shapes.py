"""The redaction policy on secrets known by their shape alone: vendors' tokens, database texts that quote a value,
percent-encoded names. Each is found with no sensitive word before it; look-alikes of each stay."""

from __future__ import annotations

import pytest

from app.core.redaction import FILTERED, redact_text

ALNUM = "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG0hJ2kL4mN6pQ8rS0tU2vW4xY6z"
# One of each family, shaped as its vendor documents it (made up, never issued).
TOKENS = {
    "stripe live": f"sk_live_{ALNUM[:24]}",
    "stripe test": f"sk_test_{ALNUM[:24]}",
    "stripe restricted": f"rk_live_{ALNUM[:24]}",
    "github personal": f"ghp_{ALNUM[:36]}",
    "github oauth": f"gho_{ALNUM[:36]}",
    "github fine-grained": f"github_pat_11{ALNUM[:20]}_{ALNUM[:59]}",
    "slack bot": f"xoxb-123456789012-1234567890123-{ALNUM[:24]}",
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "gitlab": f"glpat-{ALNUM[:20]}",
    "openai project": f"sk-proj-{ALNUM[:48]}",
    "npm": f"npm_{ALNUM[:36]}",
    "google api key": f"AIza{ALNUM[:35]}",
}
SLACK_WEBHOOK = f"https://hooks.slack.com/services/T0AB12CD3/B0AB12CD3/{ALNUM[:24]}"


@pytest.mark.parametrize("family", sorted(TOKENS))
def test_vendor_tokens_are_found_in_free_text_with_no_word_before_them(family: str) -> None:
    token = TOKENS[family]
    assert redact_text(f"partner call failed ({token}) in 3 tries") == f"partner call failed ({FILTERED}) in 3 tries"
    assert redact_text(token) == FILTERED


def test_a_slack_webhooks_path_is_its_secret() -> None:
    assert redact_text(f"posting to {SLACK_WEBHOOK}") == f"posting to https://hooks.slack.com/services/{FILTERED}"


@pytest.mark.parametrize(
    "text",
    [
        "skip_live_x",
        "sk_live_short",
        "task_live_aB3dE5fG7hJ9kL1mN2pQ4rS6t",
        f"ghp_{ALNUM[:10]}",
        f"pkghp_{ALNUM[:36]}",
        "AKIA1234",
        "AKIAIOSFODNN7EXAMPLE1",
        "npm_install --save",
        "AIzaShort",
        "xoxb",
        "glpat-short",
        "sk-learn 1.5",
        "https://hooks.slack.com/services/",
    ],
)
def test_look_alikes_of_vendor_tokens_survive(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'violates unique constraint "uq_api_key"\nDETAIL:  Key (api_key)=(ak_1) already exists.',
            f'violates unique constraint "uq_api_key"\nDETAIL:  Key (api_key)=({FILTERED}) already exists.',
        ),
        (
            "DETAIL:  Key (lower(email::text))=(ada@example.com) already exists.",
            f"DETAIL:  Key (lower(email::text))=({FILTERED}) already exists.",
        ),
        (
            "DETAIL:  Key (tenant, ref)=(7, x (2)) is not present",
            f"DETAIL:  Key (tenant, ref)=({FILTERED}) is not present",
        ),
        ("DETAIL:  Failing row contains (1, null, hunter2).", f"DETAIL:  Failing row contains ({FILTERED})."),
        ('invalid input syntax for type uuid: "tok-9f8e"', f"invalid input syntax for type uuid: {FILTERED}"),
        ('invalid input value for enum mood: "s3cr\\"et"', f"invalid input value for enum mood: {FILTERED}"),
        (
            "invalid UUID 'tok-9f8e': length must be between 32..36",
            f"invalid UUID {FILTERED}: length must be between 32..36",
        ),
    ],
)
def test_database_texts_that_quote_a_value_lose_the_value(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("page=2&api%5Fkey=k-1&x=1", f"page=2&api%5Fkey={FILTERED}&x=1"),
        ("access%5ftoken=k-1", f"access%5ftoken={FILTERED}"),
        ("%61pi_key=k-1", f"%61pi_key={FILTERED}"),
        ("client+secret=k-1&page=2", f"client+secret={FILTERED}&page=2"),
        ("GET /x?refresh%2Dtoken=k-1", f"GET /x?refresh%2Dtoken={FILTERED}"),
    ],
)
def test_percent_encoded_names_are_decoded_before_the_name_rules_read_them(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_percent_encoded_ordinary_names_stay() -> None:
    assert redact_text("status%5Fcode=503&page%20size=20") == "status%5Fcode=503&page%20size=20"

"""The redaction policy on its own: which names are sensitive, which values in free text are secrets."""

from __future__ import annotations

import pytest

from app.core import redaction


@pytest.mark.parametrize(
    "name",
    [
        *("password", "new_password", "accessToken", "RefreshToken", "clientSecret", "apiKey", "X-Api-Key", "key"),
        *("code", "sig", "jwt", "otp", "pin", "bearer", "connectionString", "X-Authentication", "X-Access-Key"),
        *("Ocp-Apim-Subscription-Key", "SENTRY_DSN", "b'authorization'", "card_number", "session_id"),
    ],
)
def test_sensitive_names_are_recognised_in_every_spelling(name: str) -> None:
    assert redaction.is_sensitive_key(name)


@pytest.mark.parametrize(
    "name",
    ["status_code", "primary_key", "author", "tokenizer", "page", "order_id", "pin_count", "keyboard", "zip_code"],
)
def test_ordinary_names_stay_readable(name: str) -> None:
    assert not redaction.is_sensitive_key(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed for token abc123XYZdef", "login failed for token [Filtered]"),
        ("GET https://h/x?page=2&api_key=k3y-1&x=1", "GET https://h/x?page=2&api_key=[Filtered]&x=1"),
        (
            "input_value={'access_token': 'tok-123', 'user': 'bob'}",
            "input_value={'access_token': '[Filtered]', 'user': 'bob'}",
        ),
        ("query argument $1: 'pw-1' (expected int)", "query argument $1: [Filtered] (expected int)"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: [Filtered]"),
        ("sent with Bearer sk-live-1234", "sent with Bearer [Filtered]"),
        ("postgresql+asyncpg://app:pw@db:5432/app", "postgresql+asyncpg://[Filtered]:[Filtered]@db:5432/app"),
        ("Server=db;Password=pw-1;Database=app", "Server=db;Password=[Filtered];Database=app"),
        ("Login(username='bob', password='pw-1')", "Login(username='bob', password='[Filtered]')"),
        ('{"clientSecret": "s-1", "ok": "y"}', '{"clientSecret": "[Filtered]", "ok": "y"}'),
        ("note eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "note [Filtered]"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----", "[Filtered]"),
        ("card 4111 1111 1111 1111 on 2024", "card [Filtered] on 2024"),
        ("amex 378282246310005.", "amex [Filtered]."),
    ],
)
def test_value_rules_find_secrets_in_free_text(text: str, expected: str) -> None:
    assert redaction.redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-2024-000123 shipped",
        "status_code=503 primary_key=4242 author=Jane",
        "at 2024-01-15T10:20:30.123456Z",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "reference 4111111111111112",
        "token expired for user 42",
        "version 1.2.3; pin count 4",
    ],
)
def test_look_alikes_survive_the_value_rules(text: str) -> None:
    assert redaction.redact_text(text) == text


def test_extra_keys_extend_the_policy() -> None:
    # Redacted once before, so a result kept from before the change would show here.
    assert redaction.redact_text("customer_ref=abcdef") == "customer_ref=abcdef"
    try:
        redaction.configure(["customer_ref"])
        assert redaction.is_sensitive_key("customerRef")
        assert redaction.redact_text("customer_ref=abcdef") == "customer_ref=[Filtered]"
    finally:
        redaction.configure([])
    assert not redaction.is_sensitive_key("customerRef")
    assert redaction.redact_text("customer_ref=abcdef") == "customer_ref=abcdef"

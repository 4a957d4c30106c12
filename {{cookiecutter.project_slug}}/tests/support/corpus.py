"""The planted-secret corpus: a marker for every kind of leak, and the one route that plants them all.

One request plants them all (query, headers, body, path, logs, exceptions, locals, tags, extra, outbound calls);
``mount`` adds the route that receives it. ``tests/platform/redaction/test_corpus.py`` sends that request and searches
everything that leaves the process for every marker.
"""

from __future__ import annotations

import logging
import os

import httpx
import sentry_sdk
import structlog
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from app.core.config import Settings


def luhn_card(prefix: str, length: int) -> str:
    """A card number of ``length`` digits starting with ``prefix`` that passes the Luhn check."""
    body = prefix.ljust(length - 1, "7")
    for check in "0123456789":
        digits = [int(d) for d in reversed(body + check)]
        if sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def jwt(marker: str) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{marker}In0.c2lnbmF0dXJl{marker}"


def marker(index: int) -> str:
    return f"mk{index:02d}Zq7w"


# Family (the numbering) and where the case is planted -> its marker.
CASES: dict[str, str] = {
    name: marker(index)
    for index, name in enumerate(
        [
            "1 exception: login failed for token",
            "1 exception: httpx HTTPStatusError URL ?api_key=",
            "1 exception: pydantic ValidationError input_value dict",
            "1 exception: asyncpg query argument text",
            "1 exception: password= in the message",
            "2 log: structlog field password",
            "2 log: structlog field api_key",
            "2 log: stdlib %s with a bearer token",
            "2 log: outbound URL with user:password",
            "2 log: contextvar bound with a secret name",
            "3 key: query accessToken",
            "3 key: query refreshToken",
            "3 key: query clientSecret",
            "3 key: query apiKey",
            "3 key: query key",
            "3 key: query code",
            "3 key: query sig",
            "3 key: query jwt",
            "3 key: query otp",
            "3 key: query pin",
            "3 key: body bearer",
            "3 key: body connectionString",
            "3 key: header X-Authentication",
            "3 key: header Ocp-Apim-Subscription-Key",
            "3 key: header X-Access-Key",
            "4 value: Bearer in free text",
            "4 value: Password= in a connection string",
            "4 value: URL userinfo",
            "5 locals: pydantic body model",
            "5 locals: Settings object (DSN)",
            "5 locals: Settings object (DATABASE_URL password)",
            "5 locals: db_url string",
            "5 locals: environment entries",
            "6 path: route parameter {token}",
            "7 attached: set_tag customer_token",
            "7 attached: set_extra endpoint userinfo",
            "7 attached: set_extra DATABASE_URL",
            "7 attached: set_context",
            "8 process: sys.argv",
            "10 hostile: outbound URL userinfo (httpx [Filtered] host)",
            "10 hostile: outbound query api_key",
            "4 value: PEM private key",
        ],
        start=1,
    )
}
# Secrets that are their own marker: the rules must know them by their shape.
SHAPED: dict[str, str] = {
    "1 exception: card number in the message": luhn_card("4000001", 16),
    "2 log: card field": luhn_card("5500002", 16),
    "4 value: JWT under an innocent key": jwt("mk90Zq7w"),
    "4 value: 15-digit card in a query string": luhn_card("3400003", 15),
    "6 path: JWT in an unmatched path": jwt("mk91Zq7w"),
}
PEM = f"-----BEGIN PRIVATE KEY-----\nMIIE{CASES['4 value: PEM private key']}\n-----END PRIVATE KEY-----"
THIRD_PARTY = "https://api.example.com"


def m(name: str) -> str:
    return CASES[name]


class DataError(Exception):
    """Stands for asyncpg's DataError, whose text quotes the bound value it could not encode."""


class Login(BaseModel):
    model_config = ConfigDict(extra="allow")
    username: str
    password: str


def raise_chain() -> None:
    """Five exceptions chained by ``raise ... from``, each text holding a secret the way real libraries write it."""
    try:
        try:
            try:
                try:
                    TypeAdapter(int).validate_python(
                        {"access_token": m("1 exception: pydantic ValidationError input_value dict")}
                    )
                except ValidationError as exc:
                    raise DataError(
                        f"invalid input for query argument $1: {m('1 exception: asyncpg query argument text')!r}"
                        " ('str' object cannot be interpreted as an integer)"
                    ) from exc
            except DataError as exc:
                url = f"{THIRD_PARTY}/v1/items?api_key={m('1 exception: httpx HTTPStatusError URL ?api_key=')}"
                response = httpx.Response(401, request=httpx.Request("GET", url))
                try:
                    response.raise_for_status()
                except httpx.HTTPStatusError as status_error:
                    raise status_error from exc
        except httpx.HTTPStatusError as exc:
            raise RuntimeError(f"retry failed: password={m('1 exception: password= in the message')}") from exc
    except RuntimeError as exc:
        card = SHAPED["1 exception: card number in the message"]
        token = m("1 exception: login failed for token")
        raise ValueError(f"login failed for token {token} (card {card})") from exc


def mount(app: FastAPI, outbound: list[httpx.Request]) -> None:
    """Add the route that plants every secret and then fails; its upstream calls are kept in ``outbound``."""
    log = structlog.get_logger("app.corpus")

    def record(request: httpx.Request) -> httpx.Response:
        outbound.append(request)
        return httpx.Response(200, json={})

    @app.post("/corpus/reset/{token}")
    async def plant_everything(token: str, login: Login, request: Request) -> None:
        structlog.contextvars.bind_contextvars(session_token=m("2 log: contextvar bound with a secret name"))
        log.info(
            "charging",
            password=m("2 log: structlog field password"),
            api_key=m("2 log: structlog field api_key"),
            card=SHAPED["2 log: card field"],
        )
        logging.getLogger("app.corpus.stdlib").warning(
            "upstream auth header was %s", f"Bearer {m('2 log: stdlib %s with a bearer token')}"
        )
        log.info("calling upstream", url=f"https://user:{m('2 log: outbound URL with user:password')}@svc.internal/x")
        sentry_sdk.set_tag("customer_token", m("7 attached: set_tag customer_token"))
        db_url = f"postgresql+asyncpg://app:{m('5 locals: db_url string')}@db:5432/app"  # noqa: F841  (a local for the event)
        sentry_sdk.set_extra(
            "upstream",
            {
                "endpoint": f"http://svc:{m('7 attached: set_extra endpoint userinfo')}@host/",
                "db": f"postgresql://app:{m('7 attached: set_extra DATABASE_URL')}@db/app",
            },
        )
        sentry_sdk.set_context("billing", {"note": f"Bearer {m('7 attached: set_context')}-tail"})
        configured = Settings(  # noqa: F841
            _env_file=None,
            SENTRY_DSN=f"https://{m('5 locals: Settings object (DSN)')}@o1.ingest.sentry.io/1",
            DATABASE_URL=f"postgresql+asyncpg://app:{m('5 locals: Settings object (DATABASE_URL password)')}@db/app",
        )
        environment = {"CORPUS_UPSTREAM": os.environ["CORPUS_UPSTREAM"]}  # noqa: F841
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            await client.get(
                f"https://user:{m('10 hostile: outbound URL userinfo (httpx [Filtered] host)')}@api.example.com/v1"
            )
            await client.get(f"{THIRD_PARTY}/v1?api_key={m('10 hostile: outbound query api_key')}&page=2")
            await client.get("http://localhost:8001/internal")
        # login, configured, db_url, environment and token are locals of this frame when the chain is raised.
        raise_chain()

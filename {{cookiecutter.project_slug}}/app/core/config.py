"""Service settings: one typed object, read from the environment and the env files."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Annotated, Literal
{%- if cookiecutter.include_worker == "yes" %}
from urllib.parse import urlsplit
{%- endif %}

from dotenv import dotenv_values
from pydantic import Field, HttpUrl, Secret, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "staging", "production"]

{# The name is free text: quoted as ruff would quote it, backslashes and that quote escaped. The slug and version
    are plain ASCII (the pre_gen_project hook checked them), which `tojson` writes as a Python string literal. -#}
{% set name = cookiecutter.project_name -%}
{% set quote = "'" if name.count('"') > name.count("'") else '"' -%}
PROJECT_NAME = {{ quote ~ name | replace("\\", "\\\\") | replace(quote, "\\" ~ quote) ~ quote }}
DISTRIBUTION = {{ cookiecutter.project_slug | tojson }}
VERSION = {{ cookiecutter.version | tojson }}

SampleRate = Annotated[float, Field(ge=0.0, le=1.0)]
# A comma-separated list in the environment: "a,b,c".
CommaList = Annotated[list[str], NoDecode]
{%- if cookiecutter.include_worker == "yes" %}
MEMORY_BROKER = "memory://"
BROKER_SCHEMES = frozenset({"memory", "redis", "rediss"})
{%- endif %}


def env_files() -> tuple[str, ...]:
    """`.env`, then `.env.<ENVIRONMENT>`: later files win, real environment variables win over both."""
    environment = os.environ.get("ENVIRONMENT") or _environment_in(".env") or "development"
    return (".env", f".env.{environment}")


def _environment_in(path: str) -> str | None:
    """ENVIRONMENT as the settings will read it from ``path``: python-dotenv parses the file for both."""
    values = dotenv_values(path, encoding="utf-8")  # a missing file reads as empty
    return next((value for key, value in values.items() if key.upper() == "ENVIRONMENT" and value), None)


{% if cookiecutter.include_worker == "yes" -%}
class BrokerSettings(BaseSettings):
    """The broker's part of the settings, read when ``app.worker.broker`` is first imported (its tasks need the
    broker before anything starts), so that no other variable can fail that import; ``Settings`` holds these
    fields too and checks them against the environment."""

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore", frozen=True)

    # memory:// runs each job in the enqueuing process (development, tests); redis:// or rediss:// a Redis stream.
    BROKER_URL: SecretStr = SecretStr(MEMORY_BROKER)
    BROKER_QUEUE: str = "jobs"
    # A job a worker took but never acknowledged (the worker died) goes to another worker after this long: longer
    # than the slowest job, or a running job is run twice.
    BROKER_REDELIVERY_SECONDS: Annotated[float, Field(gt=0)] = 600.0

    @field_validator("BROKER_URL")
    @classmethod
    def _known_broker(cls, value: SecretStr) -> SecretStr:
        if urlsplit(value.get_secret_value()).scheme not in BROKER_SCHEMES:
            raise ValueError("expected memory:// or redis://HOST:6379/0 (rediss:// with TLS)")
        return value


class Settings(BrokerSettings):
{%- else -%}
class Settings(BaseSettings):
{%- endif %}
    """Everything the service reads from its environment. A bad value stops start-up and names the variable."""

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore", frozen=True)

    PROJECT_NAME: str = PROJECT_NAME
    ENVIRONMENT: Environment = "development"

    # Secret types: no repr, log line or frame local shows the value; read it with .get_secret_value().
    SENTRY_DSN: Secret[HttpUrl] | None = None
    SENTRY_TRACES_SAMPLE_RATE: SampleRate = 0.0
    # How traces leave: "static" (one transaction per request) or "stream" (each span on its own, sentry-sdk 3's way).
    SENTRY_TRACE_LIFECYCLE: Literal["static", "stream"] = "static"
    SENTRY_PROFILES_SAMPLE_RATE: SampleRate = 0.0
    SENTRY_ERROR_SAMPLE_RATE: SampleRate = 1.0
    SENTRY_RELEASE: str = f"{DISTRIBUTION}@{VERSION}"
    SENTRY_SERVER_NAME: str | None = None
    SENTRY_MAX_BREADCRUMBS: Annotated[int, Field(ge=0, le=100)] = 50
    SENTRY_SEND_USER_EMAIL: bool = False
    SENTRY_DEBUG: bool = False
    # Frame locals help debugging but cost time per captured error and can hold secrets (they are scrubbed).
    SENTRY_INCLUDE_LOCALS: bool = False
    # Hosts that outgoing requests may send trace headers to (sentry-trace, baggage); empty: none.
    SENTRY_TRACE_PROPAGATION_TARGETS: CommaList = ["localhost", "127.0.0.1"]
    # Every log line also sent as a Sentry log, linked to its trace (off: each line costs the SDK's work for a log);
    # the access line only if asked, as one log per request repeats its transaction.
    SENTRY_ENABLE_LOGS: bool = False
    SENTRY_LOGS_ACCESS_LINE: bool = False
    # Names to redact in events and logs on top of the built-in ones (app/core/redaction/), matched as words.
    REDACT_EXTRA_KEYS: CommaList = []

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] | None = None

    DATABASE_URL: SecretStr = SecretStr("sqlite+aiosqlite:///./app.db")
    DB_POOL_SIZE: Annotated[int, Field(ge=1)] = 5
    DB_MAX_OVERFLOW: Annotated[int, Field(ge=0)] = 10
    DB_POOL_TIMEOUT: Annotated[float, Field(gt=0)] = 5.0
    DB_CONNECT_TIMEOUT: Annotated[float, Field(gt=0)] = 3.0
    DB_STATEMENT_TIMEOUT: Annotated[float, Field(gt=0)] = 10.0
    HEALTH_CHECK_TIMEOUT: Annotated[float, Field(gt=0)] = 2.0
{%- if cookiecutter.include_examples == "yes" %}

    EXTERNAL_API_BASE_URL: HttpUrl = HttpUrl("https://api.example.com")
    EXTERNAL_API_TIMEOUT: Annotated[float, Field(gt=0)] = 5.0
{%- endif %}

    MAX_REQUEST_BODY_BYTES: Annotated[int, Field(ge=1)] = 1_048_576
    # After SIGTERM, readiness answers 503 for this long before the server stops accepting (for load balancers
    # that poll readiness; Kubernetes' preStop pause does this job there).
    SHUTDOWN_DRAIN_SECONDS: Annotated[float, Field(ge=0)] = 0.0
    ENABLE_DEBUG_ROUTES: bool = False
    # /docs, /redoc and /openapi.json; unset: on everywhere but production.
    ENABLE_DOCS: bool | None = None
    # Strict-Transport-Security's max-age, for a service reached over TLS only (set where TLS ends); 0: no header.
    HSTS_MAX_AGE: Annotated[int, Field(ge=0)] = 0

    @field_validator("SENTRY_DSN", "SENTRY_SERVER_NAME", "LOG_FORMAT", "ENABLE_DOCS", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("SENTRY_TRACE_PROPAGATION_TARGETS", "REDACT_EXTRA_KEYS", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check_environment_fit(self) -> Settings:
        if self.ENVIRONMENT == "production" and self.DATABASE_URL.get_secret_value().startswith("sqlite"):
            raise ValueError(
                "DATABASE_URL: production must not run on SQLite; "
                "set DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DBNAME"
            )
{%- if cookiecutter.include_worker == "yes" %}
        if self.ENVIRONMENT != "development" and self.BROKER_URL.get_secret_value() == MEMORY_BROKER:
            raise ValueError(
                f"BROKER_URL: {self.ENVIRONMENT} must not run jobs in process, where a restart loses them; "
                "set BROKER_URL=redis://HOST:6379/0"
            )
{%- endif %}
        return self

    @property
    def log_format(self) -> Literal["json", "console"]:
        """Console output only where a person reads it: development, unless LOG_FORMAT says otherwise."""
        if self.LOG_FORMAT is not None:
            return self.LOG_FORMAT
        return "console" if self.ENVIRONMENT == "development" else "json"

    @property
    def debug_routes_enabled(self) -> bool:
        return self.ENVIRONMENT != "production" or self.ENABLE_DEBUG_ROUTES

    @property
    def docs_enabled(self) -> bool:
        """The API docs and schema are served: ENABLE_DOCS, or when unset anywhere but production."""
        return self.ENVIRONMENT != "production" if self.ENABLE_DOCS is None else self.ENABLE_DOCS


def describe_errors(error: ValidationError) -> list[str]:
    """One line per bad variable: its name and what is wrong, never its value (it may be a secret)."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"invalid setting {name}: {message}" if name else f"invalid setting {message}")
    return lines


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and the env files.

    A bad value stops the process with one line per bad variable on stderr and exit status 1, no traceback.
    """
    try:
        return Settings(_env_file=env_files())
    except ValidationError as error:
        print(*describe_errors(error), sep="\n", file=sys.stderr)  # logging is not configured yet
        raise SystemExit(1) from None

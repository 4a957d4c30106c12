"""What the posts API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.models.post import TITLE_MAX_LENGTH
from app.schemas.fields import WITHOUT_NUL

BODY_MAX_LENGTH = 10_000
PAGE_MAX_LIMIT = 100
# Unicode White_Space, spelled out: `\s` means three different sets in Python, Rust (pydantic) and JavaScript
# regexes, and every client reads the schema's pattern with its own engine.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_CLASS = "".join(f"\\u{ord(char):04x}" for char in WHITESPACE)
# Not blank, no NUL. The schema states every rule, checked on the title as sent; only then is it stripped.
# (A length checked after stripping would refuse titles the schema allows: "\n" has one character.)
NOT_BLANK_WITHOUT_NUL = rf"^[^\x00]*[^\x00{_WHITESPACE_CLASS}][^\x00]*$"


def strip_whitespace(value: str) -> str:
    """The title as stored: without the whitespace around it."""
    return value.strip(WHITESPACE)


Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NOT_BLANK_WITHOUT_NUL),
    AfterValidator(strip_whitespace),
]
Body = Annotated[str, Field(max_length=BODY_MAX_LENGTH, pattern=WITHOUT_NUL)]


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""


class PostUpdate(BaseModel):
    """A partial update: fields left out keep their value; a field may not be set to null."""

    model_config = ConfigDict(extra="forbid")

    # None is only the "left out" marker: the schema documents a string, as the validator below enforces.
    title: Title | SkipJsonSchema[None] = None
    body: Body | SkipJsonSchema[None] = None

    @field_validator("title", "body")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Runs only for fields the client sent (defaults are not validated), so None here is an explicit null.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime


class PostPage(BaseModel):
    items: list[PostRead]
    total: int = Field(ge=0, description="Number of posts in all pages.")
    limit: int = Field(ge=1, le=PAGE_MAX_LIMIT)
    offset: int = Field(ge=0)

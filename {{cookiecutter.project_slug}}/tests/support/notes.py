"""A resource of the tests' own, ``/api/v1/notes``: the vehicle of tests whose subject is not a resource.

Tests of sessions, probes, logging, tracing and errors need a route that reads and writes the database. This
one is defined here, on a table outside ``Base.metadata`` (so migrations never see it), and mounted on every
platform test's app by ``create_test_app`` (``tests/platform/conftest.py``): those tests keep working whatever
resources the service has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, FastAPI, Path, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import NAMING_CONVENTION
from app.db.errors import is_duplicate
from app.db.session import SessionDep
from app.exceptions import ConflictError, NotFoundError
from app.main import create_app

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport

    from app.core.config import Settings

NOTES = "/api/v1/notes"

metadata = MetaData(naming_convention=NAMING_CONVENTION)
notes = Table(
    "test_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), unique=True, nullable=False),
    Column("body", Text, nullable=False),
)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = ""


class NoteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)


class NoteOut(BaseModel):
    id: int
    title: str
    body: str


class NotePage(BaseModel):
    items: list[NoteOut]


async def after_write(session: AsyncSession) -> None:
    """Runs after every write, inside the request's transaction: tests replace it to fail there."""


async def written(session: AsyncSession, statement: Any) -> NoteOut:
    try:
        row = (await session.execute(statement.returning(*notes.c))).one_or_none()
    except IntegrityError as error:
        if not is_duplicate(error):
            raise
        raise ConflictError("A note with this title exists", details={"field": "title"}) from error
    if row is None:
        raise NotFoundError("Note not found")
    await after_write(session)
    return NoteOut(**row._mapping)


NoteId = Annotated[int, Path(ge=1)]
router = APIRouter(prefix=NOTES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_note(data: NoteIn, session: SessionDep) -> NoteOut:
    """Create a note."""
    return await written(session, insert(notes).values(**data.model_dump()))


@router.get("")
async def list_notes(session: SessionDep) -> NotePage:
    """Every note, oldest first."""
    rows = (await session.execute(select(notes).order_by(notes.c.id))).all()
    return NotePage(items=[NoteOut(**row._mapping) for row in rows])


@router.get("/{note_id}")
async def get_note(note_id: NoteId, session: SessionDep) -> NoteOut:
    """Read one note."""
    row = (await session.execute(select(notes).where(notes.c.id == note_id))).one_or_none()
    if row is None:
        raise NotFoundError(f"Note {note_id} not found", details={"note_id": note_id})
    return NoteOut(**row._mapping)


@router.patch("/{note_id}")
async def change_note(note_id: NoteId, data: NoteChange, session: SessionDep) -> NoteOut:
    """Change a note's title."""
    return await written(session, update(notes).where(notes.c.id == note_id).values(title=data.title))


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_note(note_id: NoteId, session: SessionDep) -> None:
    """Delete a note."""
    await session.execute(notes.delete().where(notes.c.id == note_id))


def mount(app: FastAPI) -> None:
    app.include_router(router)


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(notes)) or 0


def create_test_app(settings: Settings, *, sentry_transport: Transport | None = None) -> FastAPI:
    """The service as ``create_app`` builds it, with the tests' own notes resource mounted."""
    app = create_app(settings, sentry_transport=sentry_transport)
    mount(app)
    return app

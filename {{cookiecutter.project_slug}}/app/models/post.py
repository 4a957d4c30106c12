"""The worked example's table: blog-style posts with a unique title."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

TITLE_MAX_LENGTH = 200


class Post(Base):
    __tablename__ = "posts"
    # Read created_at back with the INSERT: an async session cannot lazy-load it later.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    def __repr__(self) -> str:
        return f"Post(id={self.id!r}, title={self.title!r})"

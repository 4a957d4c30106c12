"""Every model, imported here so that `Base.metadata` is complete for migrations and tests."""

from app.models.post import Post as Post

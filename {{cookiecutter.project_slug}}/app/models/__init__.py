"""Every model, imported here so that `Base.metadata` is complete for migrations and tests."""
{%- if cookiecutter.include_examples == "yes" %}

from app.models.post import Post as Post
{%- endif %}

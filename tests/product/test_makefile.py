"""The baked Makefile: every target a service needs, and what each one runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jinja2
import pytest

from tests.product.baked import REQUIRED_TARGETS, TEMPLATE_PROJECT, VERBATIM_FILES, Product, make_targets, recipe


def test_makefile_defines_every_required_target(product: Product) -> None:
    assert not REQUIRED_TARGETS - make_targets(product.text("Makefile"))


@pytest.mark.parametrize("target", sorted(REQUIRED_TARGETS))
def test_make_accepts_every_required_target(default_product: Path, target: str) -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", target, "m=add comments", "PYTHON=python"],
        cwd=default_product,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.strip()


def test_make_revision_numbers_the_next_migration(default_product: Path) -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "revision", "m=add comments"],
        cwd=default_product,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert 'alembic revision --autogenerate --rev-id 0002 -m "add comments"' in dry_run.stdout


def test_make_revision_without_a_message_explains_itself(default_product: Path) -> None:
    result = subprocess.run(
        ["make", "revision"], cwd=default_product, capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode != 0
    assert 'make revision m="' in result.stderr


def test_make_run_leaves_logging_to_the_service(product: Product) -> None:
    run = " ".join(recipe(product.text("Makefile"), "run"))

    assert "uvicorn app.main:app" in run
    assert "--no-access-log" in run
    assert "--log-config" not in run


def test_make_install_installs_the_dev_extra_editable(product: Product) -> None:
    assert recipe(product.text("Makefile"), "install") == ['$(PYTHON) -m pip install -e ".[dev]"']


@pytest.mark.parametrize("name", VERBATIM_FILES)
def test_tool_files_are_baked_verbatim(product: Product, name: str) -> None:
    """Rendered with nothing but the worker switch (an undefined name fails), the template file is the baked one."""
    source = (TEMPLATE_PROJECT / name).read_text(encoding="utf-8")
    if name.startswith(".github/"):  # copied without rendering (cookiecutter.json's _copy_without_render)
        assert product.text(name) == source
        return
    # Shell, YAML and make files, not HTML: nothing to escape.
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701
    include_worker = product.answers.values.get("include_worker", "no")
    expected = environment.from_string(source).render(cookiecutter={"include_worker": include_worker})
    assert product.text(name) == expected


def test_make_help_names_the_port_and_host_run_listens_on(default_product: Path) -> None:
    shown = subprocess.run(
        ["make", "help", "PORT=8010"], cwd=default_product, capture_output=True, text=True, timeout=30, check=True
    ).stdout

    assert "PORT" in shown
    assert "127.0.0.1:8010" in shown

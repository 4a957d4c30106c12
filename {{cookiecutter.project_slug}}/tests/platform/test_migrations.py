"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and can be undone."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, UniqueConstraint, inspect

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db.base import Base
from app.db.engine import build_unpooled_engine
from tests.support.db import closed_port, empty_database_url

__all__ = ["empty_database_url"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def alembic(url: str, run: Callable[..., Any], *args: Any) -> None:
    """Run an alembic command in this process, on a connection we own (see migrations/env.py)."""

    def on_connection(connection: Connection) -> None:
        config = Config(PROJECT_ROOT / "alembic.ini")
        config.attributes["connection"] = connection
        run(config, *args)

    engine = build_unpooled_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(on_connection)
    finally:
        await engine.dispose()


async def describe(url: str) -> dict[str, Any]:
    """Tables, and their unique constraints, as the database reports them."""

    def read(connection: Connection) -> dict[str, Any]:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        uniques = [u for table in tables for u in inspector.get_unique_constraints(table)]
        return {"tables": tables, "unique": {u["name"]: u["column_names"] for u in uniques}}

    engine = build_unpooled_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_upgrade_creates_the_schema_of_the_models(empty_database_url: str) -> None:
    await alembic(empty_database_url, command.upgrade, "head")

    await alembic(empty_database_url, command.check)  # raises if models and migrations differ
    schema = await describe(empty_database_url)
    assert schema["tables"] == {"alembic_version", *Base.metadata.tables}
    assert schema["unique"] == {
        str(constraint.name): [column.name for column in constraint.columns]
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    }


async def test_downgrade_removes_everything_and_upgrade_works_again(empty_database_url: str) -> None:
    await alembic(empty_database_url, command.upgrade, "head")
    await alembic(empty_database_url, command.downgrade, "base")

    assert (await describe(empty_database_url))["tables"] == {"alembic_version"}

    await alembic(empty_database_url, command.upgrade, "head")
    assert (await describe(empty_database_url))["tables"] == {"alembic_version", *Base.metadata.tables}


async def alembic_command_line(*args: str, env: dict[str, str]) -> tuple[int | None, str, str]:
    """Run ``python -m alembic ARGS`` as a user would, in the project's folder: exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "alembic", *args),
        cwd=PROJECT_ROOT,
        env={**os.environ, "ENVIRONMENT": "staging", "LOG_FORMAT": "json", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    return process.returncode, stdout.decode(), stderr.decode()


async def test_alembic_command_line_migrates_the_given_database_naming_revisions_not_ddl(
    empty_database_url: str,
) -> None:
    # DATABASE_URL points nowhere: the migration must use the -x dburl given on the command line.
    unreachable = f"postgresql+asyncpg://app@127.0.0.1:{closed_port()}/app"
    # LOG_LEVEL=DEBUG: the level that shows the service's own SQL; migrations still do not print theirs.
    env = {"DATABASE_URL": unreachable, "LOG_LEVEL": "DEBUG"}
    migrate = ("-x", f"dburl={empty_database_url}", "upgrade", "head")

    returncode, stdout, stderr = await alembic_command_line(*migrate, env=env)

    assert returncode == 0, stderr
    revisions = ScriptDirectory.from_config(Config(PROJECT_ROOT / "alembic.ini")).walk_revisions()
    assert all(f"-> {revision.revision}," in stdout for revision in revisions)
    assert "CREATE TABLE" not in stdout + stderr
    await alembic(empty_database_url, command.check)


async def test_alembic_against_an_unreachable_database_fails_with_one_line_and_no_password() -> None:
    port = closed_port()
    password = "planted-Pw-5e0d2"
    env = {"DATABASE_URL": f"postgresql+asyncpg://app:{password}@127.0.0.1:{port}/orders"}

    returncode, stdout, stderr = await alembic_command_line("upgrade", "head", env=env)

    assert returncode == 1
    [line] = (stdout + stderr).strip().splitlines()
    assert line.startswith(f"alembic: cannot reach the database at 127.0.0.1:{port} (database orders): ")
    assert "ConnectionRefusedError" in line
    assert password not in line

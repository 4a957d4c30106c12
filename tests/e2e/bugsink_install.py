"""bugsink installed once per version into its own cached virtualenv, and a migrated database to copy per run.

bugsink installs generic top-level packages (`events`, `issues`, `projects`, ...), so it never goes into the
environment that runs the tests or the service. `ensure_venv` installs it (cached by version); `ensure_template`
migrates an empty database once, which every server run copies instead of migrating again.
"""

# Runs only our own pinned tools, and every URL is http://127.0.0.1:

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from ..support.harness import HarnessError, build_venv, cache_dir, cache_lock

BUGSINK_VERSION = "2.6.2"

# Bump when the settings or the steps that build the migrated template database change.
TEMPLATE_REVISION = "1"


_IMPORT_CHECK = "import bugsink, django, gunicorn; from bugsink.version import version; print(version)"

_SETTINGS = """\
# Written by tests/e2e/bugsink.py for one test run. Not for production.
from bugsink.settings.default import *  # noqa: F403
from bugsink.settings.default import DATABASES

SECRET_KEY = "e2e-only-not-a-secret-5b1f0c2d9a8e4f7b6c3d2e1f0a9b8c7d6e5f4a3b2c1d"
DEBUG = False
TIME_ZONE = "UTC"

DATABASES["default"]["NAME"] = {db!r}
DATABASES["snappea"]["NAME"] = {snappea_db!r}

# Digest every event inside its ingest request: no snappea worker process, no queue to wait for.
SNAPPEA = {{
    "TASK_ALWAYS_EAGER": True,
    "NUM_WORKERS": 1,
    "WAKEUP_CALLS_DIR": {wakeup_dir!r},
}}

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

BUGSINK = {{
    "BASE_URL": {base_url!r},
    "SINGLE_USER": True,
    "SINGLE_TEAM": True,
    "USER_REGISTRATION": "CB_NOBODY",
    "PHONEHOME": False,
    # Keep every envelope as received (after decompression), so tests can see what left the process.
    "KEEP_ENVELOPES": 1_000_000,
    "INGEST_STORE_BASE_DIR": {ingest_dir!r},
    # Quotas high enough that a test never meets a 429.
    "MAX_EVENTS_PER_PROJECT_PER_5_MINUTES": 1_000_000,
    "MAX_EVENTS_PER_PROJECT_PER_HOUR": 10_000_000,
    "MAX_EVENTS_PER_PROJECT_PER_MONTH": 100_000_000,
    "MAX_EVENTS_PER_5_MINUTES": 1_000_000,
    "MAX_EVENTS_PER_HOUR": 10_000_000,
    "MAX_EVENTS_PER_MONTH": 100_000_000,
}}
"""


class BugsinkError(RuntimeError):
    """bugsink could not be installed, started or queried."""


def venv_dir(version: str = BUGSINK_VERSION) -> Path:
    """The virtualenv that holds bugsink `version`."""
    return cache_dir() / f"bugsink-venv-{version}"


def _installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    result = subprocess.run([str(python), "-c", _IMPORT_CHECK], capture_output=True, text=True, timeout=60, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _run(command: list[str], *, what: str, **kwargs: Any) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise BugsinkError(f"{what} failed: {' '.join(command)}\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return str(result.stdout)


def ensure_venv(version: str = BUGSINK_VERSION) -> Path:
    """Return a virtualenv in which bugsink `version` imports, installing it first if needed.

    bugsink installs generic top-level packages (`events`, `issues`, `projects`, ...), so it never goes into
    the environment that runs the tests or the service.
    """
    venv = venv_dir(version)
    if _installed_version(venv) == version:
        return venv
    with cache_lock(venv.name):
        if _installed_version(venv) == version:  # another process installed it while we waited
            return venv
        try:
            build_venv(venv, [f"bugsink=={version}"], what="installing bugsink")
        except HarnessError as error:
            raise BugsinkError(str(error)) from error
        installed = _installed_version(venv)
        if installed != version:
            raise BugsinkError(f"bugsink {version} was installed into {venv} but imports as {installed!r}")
    return venv


def write_settings(directory: Path, base_url: str) -> None:
    """Write bugsink_conf.py for an instance whose databases and files all live in `directory`."""
    (directory / "wakeup").mkdir(exist_ok=True)
    (directory / "ingestion").mkdir(exist_ok=True)
    settings = _SETTINGS.format(
        db=str(directory / "db.sqlite3"),
        snappea_db=str(directory / "snappea.sqlite3"),
        wakeup_dir=str(directory / "wakeup"),
        ingest_dir=str(directory / "ingestion"),
        base_url=base_url,
    )
    (directory / "bugsink_conf.py").write_text(settings)


def bugsink_env(directory: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "DJANGO_", "BUGSINK_")) and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["DJANGO_SETTINGS_MODULE"] = "bugsink_conf"
    env["PYTHONPATH"] = str(directory)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(venv: Path, directory: Path, *args: str) -> str:
    return _run(
        [str(venv / "bin" / "bugsink-manage"), *args],
        what="bugsink-manage",
        cwd=directory,
        env=bugsink_env(directory),
        timeout=300,
    )


def ensure_template(venv: Path) -> Path:
    """Return a folder holding migrated, empty bugsink databases and an API token that works on them.

    Migrating takes about 5 seconds and copying the result milliseconds, so every run starts from a copy.
    """
    template = venv / f"e2e-template-{TEMPLATE_REVISION}"
    if (template / "token").exists():
        return template
    with cache_lock(venv.name):
        if (template / "token").exists():
            return template
        building = venv / f"e2e-template-building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        write_settings(building, "http://127.0.0.1:8000")
        manage(venv, building, "migrate", "--noinput")
        manage(venv, building, "migrate", "--noinput", "--database=snappea")
        token = manage(venv, building, "create_auth_token").split()[-1]
        with contextlib.closing(sqlite3.connect(building / "db.sqlite3")) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (building / "token").write_text(token)
        shutil.rmtree(template, ignore_errors=True)
        building.rename(template)
    return template

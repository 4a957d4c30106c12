"""Shape the baked project (drop the worked examples when asked), write its environment files, print the next steps.

The next steps are left out when cruft bakes a throwaway copy for `cruft diff` or `cruft update`, whose output
must hold only the diff.

Each file is created private (mode 0600) and only if it is missing, so running the hook again over a project
keeps the user's edits. Standard library only, no network. The pre_gen_project hook has checked the answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# cookiecutter renders this file with Jinja: `tojson` escapes quotes (' becomes \u0027), backslashes and every
# non-ASCII character, so the answers arrive as JSON text inside a raw string and are never pasted into code.
ANSWERS: Final[dict[str, object]] = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip

ENVIRONMENTS: Final = ("development", "staging", "production")
LOCAL_DATABASE_URL: Final = "sqlite+aiosqlite:///./app.db"
PRIVATE_MODE: Final = 0o600

# Caches of tools run inside the template folder: cookiecutter would copy them into every project.
TOOL_CACHES: Final = (".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__")

# The worked examples: the posts resource (model, migration, schemas, service, routes, tests) and the external
# call (client, route, tests). Everything else is generic and stays.
EXAMPLE_FILES: Final = (
    "app/models/post.py",
    "app/schemas/post.py",
    "app/services/post_service.py",
    "app/api/routes/posts.py",
    "migrations/versions/0001_create_posts.py",
    "tests/features/test_posts.py",
    "tests/features/test_post_schema.py",
    "tests/features/test_post_service.py",
    "app/clients/external_api.py",
    "app/api/routes/external.py",
    "tests/features/test_external.py",
    "tests/features/test_external_deadline.py",
    "tests/features/test_post_jobs.py",
)

# Background jobs and schedules: the broker, the worker and scheduler, their Sentry part, their deployment.
WORKER_FILES: Final = (
    "app/core/_sentry/crons.py",
    "app/core/_sentry/job_traces.py",
    "app/core/_sentry/jobs.py",
    "app/worker/__init__.py",
    "app/worker/broker.py",
    "app/worker/deps.py",
    "app/worker/schedules.py",
    "app/worker/scheduler.py",
    "app/worker/tasks.py",
    "deploy/k8s/base/worker-deployment.yaml",
    "deploy/k8s/base/scheduler-deployment.yaml",
    "tests/support/jobs.py",
    "tests/platform/jobs/__init__.py",
    "tests/platform/jobs/conftest.py",
    "tests/platform/jobs/test_jobs.py",
    "tests/platform/jobs/test_crons.py",
    "tests/platform/jobs/test_redaction.py",
    "tests/features/test_post_jobs.py",
)
# Folders that hold nothing but worker files.
WORKER_FOLDERS: Final = ("app/worker", "tests/platform/jobs")

# Values python-dotenv reads back unchanged without quotes; anything else is single-quoted.
BARE_VALUE: Final = re.compile(r"[A-Za-z0-9_.,:/@+%?=&~-]*")


@dataclass(frozen=True)
class Tuning:
    """What an environment starts with. Tracing costs request time, so only development samples everything and
    production one request in a hundred (each traced request costs about half a millisecond of CPU: see the
    template's docs/benchmarks.md); profiling stays off until someone decides to pay for it."""

    traces_sample_rate: str
    log_level: str
    log_format: str
    profiles_sample_rate: str = "0.0"


TUNING: Final = {
    "development": Tuning(traces_sample_rate="1.0", log_level="INFO", log_format="console"),
    "staging": Tuning(traces_sample_rate="0.2", log_level="INFO", log_format="json"),
    "production": Tuning(traces_sample_rate="0.01", log_level="INFO", log_format="json"),
}


def say(text: str) -> None:
    """Print for the user; an output closed early (`cookiecutter ... | head`) must not fail the bake."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def remove_rendered_copy() -> None:
    """cookiecutter leaves each rendered hook, every answer inside, in the temp folder: remove this one."""
    script = Path(__file__).resolve()
    if script.parent == Path(tempfile.gettempdir()).resolve() and script.name.startswith("tmp"):
        script.unlink(missing_ok=True)


def remove_tool_caches(project: Path) -> None:
    """Drop tool caches copied from the template folder (they are rebuilt on the next run); leave git and
    virtual environments of a project baked over alone."""
    for folder, subfolders, _ in os.walk(project):
        for name in list(subfolders):
            path = Path(folder) / name
            if name in TOOL_CACHES and not path.is_symlink():
                shutil.rmtree(path)
            if name in TOOL_CACHES or name == ".git" or (path / "pyvenv.cfg").exists():
                subfolders.remove(name)


def remove_example_files(project: Path) -> None:
    """Start lean: delete the worked examples' files (the wiring files left them out when rendered)."""
    for name in EXAMPLE_FILES:
        (project / name).unlink(missing_ok=True)


def remove_worker_files(project: Path) -> None:
    """No background jobs: delete the worker's files and the folders left empty (the wiring files left them out)."""
    for name in WORKER_FILES:
        (project / name).unlink(missing_ok=True)
    for name in WORKER_FOLDERS:
        folder = project / name
        if folder.is_dir():
            shutil.rmtree(folder / "__pycache__", ignore_errors=True)
            if not any(folder.iterdir()):
                folder.rmdir()


def text_answer(field: str) -> str:
    """An answer the pre_gen_project hook has already checked."""
    return str(ANSWERS[field])


def sentry_dsn(environment: str) -> str:
    """The environment's DSN, trimmed: the answer, else $SENTRY_DSN_<ENVIRONMENT>, else empty (Sentry off)."""
    answer = text_answer(f"sentry_dsn_{environment}").strip()
    return answer or os.environ.get(f"SENTRY_DSN_{environment.upper()}", "").strip()


def dsn_source(environment: str) -> str:
    """Where `sentry_dsn` took the environment's DSN from, in words (never the DSN itself)."""
    if text_answer(f"sentry_dsn_{environment}").strip():
        return "the answer"
    if os.environ.get(f"SENTRY_DSN_{environment.upper()}", "").strip():
        return f"$SENTRY_DSN_{environment.upper()}"
    return "none given: Sentry off"


def regenerating_for_cruft(answers: dict[str, object]) -> bool:
    """Whether cruft is baking a throwaway copy to compare with or patch from (`cruft diff`, `cruft update`).

    cruft puts `_commit` into every context it bakes (plain cookiecutter never does), and for diff and update it
    bakes into a fresh `tempfile.TemporaryDirectory()`, so the project folder is `<temp folder>/tmpXXXXXXXX/<slug>`;
    `cruft create` bakes where the user asked. pre_gen_project.py holds the same function (a test keeps them equal).
    """
    if "_commit" not in answers:
        return False
    project = Path.cwd().resolve()
    temp_folder = Path(tempfile.gettempdir()).resolve()
    return project.parent.parent == temp_folder and project.parent.name.startswith("tmp")


def dotenv_value(value: str) -> str:
    """`value` written so python-dotenv (what pydantic-settings reads .env files with) reads back exactly it.

    Inside single quotes python-dotenv only unescapes \\\\ and \\', but it expands ${NAME} in every quoting
    style and has no escape for it, so such a value is refused rather than written wrong.
    """
    if "${" in value:
        raise ValueError(repr(value) + ": python-dotenv would expand the ${NAME} in it")
    if BARE_VALUE.fullmatch(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def env_file_text(comments: list[str], variables: dict[str, str]) -> str:
    """Comment lines, then one NAME=value line per variable."""
    lines = [f"# {comment}" for comment in comments]
    lines += [f"{name}={dotenv_value(value)}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"


def base_env_text(environment: str) -> str:
    """`.env`: which environment this checkout runs as, and the local defaults."""
    tuning = TUNING[environment]
    return env_file_text(
        [
            "Read first; .env.<ENVIRONMENT> and then real environment variables override it.",
            "Private to this checkout (mode 0600, ignored by git). .env.example documents every variable.",
        ],
        {
            "ENVIRONMENT": environment,
            "DATABASE_URL": LOCAL_DATABASE_URL,
            "LOG_LEVEL": tuning.log_level,
            "LOG_FORMAT": tuning.log_format,
        },
    )


def environment_env_text(environment: str, dsn: str, database_name: str) -> str:
    """`.env.<environment>`: its Sentry DSN and tuned defaults."""
    tuning = TUNING[environment]
    comments = [
        f"Read after .env when ENVIRONMENT={environment}; real environment variables override both.",
        "Private to this checkout (mode 0600, ignored by git). An empty SENTRY_DSN keeps Sentry off.",
    ]
    variables = {
        "SENTRY_DSN": dsn,
        "SENTRY_TRACES_SAMPLE_RATE": tuning.traces_sample_rate,
        "SENTRY_PROFILES_SAMPLE_RATE": tuning.profiles_sample_rate,
        "LOG_LEVEL": tuning.log_level,
        "LOG_FORMAT": tuning.log_format,
    }
    if environment == "production":
        comments += [
            "Production refuses the SQLite DATABASE_URL of .env: set yours here or in the environment, e.g.",
            f"DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/{database_name}",
        ]
        variables["ENABLE_DEBUG_ROUTES"] = "false"
        variables["ENABLE_DOCS"] = "false"
    if environment != "development" and text_answer("include_worker") == "yes":
        comments += [
            f"{environment.capitalize()} refuses to run jobs in process (BROKER_URL=memory://, the default): set",
            "BROKER_URL=redis://HOST:6379/0 here or in the environment.",
        ]
    return env_file_text(comments, variables)


def write_private_file(path: Path, text: str) -> bool:
    """Create `path` readable by its owner only; keep (and return False for) a file that already exists."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def env_files(environment: str, database_name: str) -> dict[str, str]:
    """Every env file of the checkout, by name."""
    files = {".env": base_env_text(environment)}
    for name in ENVIRONMENTS:
        files[f".env.{name}"] = environment_env_text(name, sentry_dsn(name), database_name)
    return files


def write_env_files(project: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """Write the missing env files; return the names written and the names kept as they were."""
    written: list[str] = []
    kept: list[str] = []
    for name, text in files.items():
        (written if write_private_file(project / name, text) else kept).append(name)
    return written, kept


def cd_target(project: Path) -> str:
    """The project folder as the user's shell reaches it: relative to their working folder when inside it."""
    shell_folder = os.environ.get("PWD")
    if shell_folder:
        try:
            return shlex.quote(str(project.relative_to(Path(shell_folder).resolve())))
        except ValueError:
            pass
    return shlex.quote(str(project))


def next_steps(project: Path, environment: str, python_version: str, written: list[str], kept: list[str]) -> str:
    """What happened to the env files and where each DSN came from, then what to run, in order."""
    lines = [f"Created {project} to run as ENVIRONMENT={environment}."]
    if written:
        lines.append(f"Wrote {', '.join(written)} (mode 0600, ignored by git); .env.example documents them.")
    lines += [f"Kept your existing {name}: it was not overwritten." for name in kept]
    sources = "; ".join(f"{name}: {dsn_source(name)}" for name in ENVIRONMENTS)
    lines += [
        f"Sentry DSNs written ({sources}).",
        "",
        "Next steps:",
        f"  cd {cd_target(project)}",
        "  git init  # make check-dsn checks the files git tracks",
        f"  python{python_version} -m venv .venv && . .venv/bin/activate",
        '  pip install -e ".[dev]"',
        "  make lock  # pins every dependency in uv.lock, which CI and the Docker image install: commit it",
    ]
    if environment == "production":
        lines.append("  # production refuses SQLite: set DATABASE_URL in .env.production or the environment")
    lines += [
        "  alembic upgrade head",
        "  make check  # everything CI runs: the DSN check, the lock, lint, types, tests, migrations",
        "  uvicorn app.main:app --reload",
    ]
    return "\n".join(lines)


def main() -> int:
    remove_rendered_copy()
    project = Path.cwd()
    remove_tool_caches(project)
    if text_answer("include_examples") == "no":
        remove_example_files(project)
    if text_answer("include_worker") == "no":
        remove_worker_files(project)
    environment = text_answer("environment")
    database_name = text_answer("project_slug").replace("-", "_")
    written, kept = write_env_files(project, env_files(environment, database_name))
    if not regenerating_for_cruft(ANSWERS):
        say(next_steps(project, environment, text_answer("python_version"), written, kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())

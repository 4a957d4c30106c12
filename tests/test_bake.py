"""Bake the template as a user does and check what they would see: files, contents, permissions, messages."""

from __future__ import annotations

import ast
import fnmatch
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.support.baking import TEMPLATE_DIR, Baked

Bake = Callable[..., Baked]

ENVIRONMENTS = ("development", "staging", "production")
ENV_FILES = (".env", ".env.development", ".env.staging", ".env.production")
DSNS = {
    "development": "https://devkey1@o1.ingest.sentry.io/101",
    "staging": "https://stagingkey2@o1.ingest.sentry.io/102",
    "production": "https://prodkey3@sentry.internal.example.com:9000/prefix/103",
}
TUNED = {
    "development": {"SENTRY_TRACES_SAMPLE_RATE": "1.0", "LOG_LEVEL": "INFO", "LOG_FORMAT": "console"},
    "staging": {"SENTRY_TRACES_SAMPLE_RATE": "0.2", "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"},
    "production": {
        "SENTRY_TRACES_SAMPLE_RATE": "0.01",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "ENABLE_DEBUG_ROUTES": "false",
        "ENABLE_DOCS": "false",
    },
}
NEXT_STEPS = [
    "cd ",
    "git init",
    'pip install -e ".[dev]"',
    "make lock",
    "alembic upgrade head",
    "make check",
    "uvicorn app.main:app --reload",
]
TOOL_CACHES = {".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}
SANDBOX = {"home", "tmp", "out", "replay", "cache", "cookiecutter.yaml", "typed-answers.json"}
ASSIGNMENT = re.compile(r"# ([A-Z][A-Z0-9_]*)=")
UNRENDERED = re.compile(r"\{\{-?\s*cookiecutter|\{%")
COPIED_WITHOUT_RENDERING = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))[
    "_copy_without_render"
]
DEV_DSN = DSNS["development"]
ACME_DSN = "https://abc123@o1.ingest.sentry.io/42"

# (delivery, value): "cli" passes the answer on the command line, "typed" as typed at the prompts.
TRICKY_TEXTS = [
    ("cli", "O'Brien's \"Quoted\" Orders \\ and \\n"),
    ("cli", "Café ☕ Orders 🚀"),
    ("typed", "O'Brien's \"Quoted\" Orders \\ and \\n"),
    ("typed", "Triple \"\"\" and ''' quotes, trailing backslash\\"),
    ("typed", "{{ not jinja }} {{ }} and {0} %s ${HOME}"),
    ("typed", "Émoji 🚀👩‍💻 naïve ☕"),
]


@dataclass(frozen=True)
class BadAnswer:
    """Answers a bake must refuse, and the field its message must name."""

    field: str
    answers: dict[str, str]
    typed: bool = False
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = dataclass_field(default_factory=dict)


# One bake per rule; test_hooks.py covers each rule's variants without baking.
# typed=True reaches the hooks through a replay file: cookiecutter itself refuses such choices on the command line.
BAD_ANSWERS = {
    "name-empty": BadAnswer("project_name", {"project_name": "", "project_slug": "svc"}),
    "name-newline": BadAnswer("project_name", {"project_name": "Acme\nproject_slug: ok", "project_slug": "svc"}),
    "slug-empty": BadAnswer("project_slug", {"project_slug": ""}, extra_args=("--overwrite-if-exists",)),
    "slug-upper": BadAnswer("project_slug", {"project_slug": "Acme-Orders"}),
    "slug-path": BadAnswer("project_slug", {"project_slug": "../evil"}),
    "slug-shadows-sentry-sdk": BadAnswer("project_slug", {"project_slug": "sentry-sdk"}),
    "description-newline": BadAnswer("project_description", {"project_description": "one\ntwo"}),
    "author-tab": BadAnswer("author_name", {"author_name": "Platform\tTeam"}),
    "email-malformed": BadAnswer("author_email", {"author_email": "platform-at-example.com"}),
    "version-word": BadAnswer("version", {"version": "first"}),
    "python-not-offered": BadAnswer("python_version", {"python_version": "3.10"}, typed=True),
    "environment-unknown": BadAnswer("environment", {"environment": "prod"}, typed=True),
    "include-examples-unknown": BadAnswer("include_examples", {"include_examples": "maybe"}, typed=True),
    "dsn-no-key": BadAnswer("sentry_dsn_development", {"sentry_dsn_development": "https://o1.ingest.sentry.io/42"}),
    "dsn-bad-scheme": BadAnswer("sentry_dsn_staging", {"sentry_dsn_staging": "htp://x"}),
    "dsn-no-project-id": BadAnswer(
        "sentry_dsn_production", {"sentry_dsn_production": "https://k@o1.ingest.sentry.io/p"}
    ),
    "dsn-from-variable": BadAnswer(
        "sentry_dsn_production (from $SENTRY_DSN_PRODUCTION)", {}, env={"SENTRY_DSN_PRODUCTION": "not a dsn"}
    ),
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def baked_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file() and ".git" not in path.parts)


def unrendered_files(project: Path) -> list[str]:
    """Text files still holding Jinja; files copied without rendering may hold ${{ }}, but not `cookiecutter.`."""
    leftovers = []
    for path in baked_files(project):
        relative = path.relative_to(project).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # cookiecutter copies binary files as they are
        copied = any(fnmatch.fnmatch(relative, pattern) for pattern in COPIED_WITHOUT_RENDERING)
        if ("cookiecutter." in text) if copied else UNRENDERED.search(text):
            leftovers.append(relative)
    return leftovers


def settings_fields(project: Path) -> list[str]:
    """The field names of the generated Settings class, read from its source."""
    tree = ast.parse((project / "app" / "core" / "config.py").read_text(encoding="utf-8"))
    settings = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings")
    return [
        node.target.id
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id.isupper()
    ]


def git(project: Path, *args: str) -> str:
    isolated = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(project)}
    return subprocess.run(
        ["git", *args],
        cwd=project,
        env=isolated,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def load_settings(project: Path, **variables: str) -> dict[str, object]:
    """Import the baked Settings in a fresh process, as the service does at start-up, and report the values."""
    script = (
        "import json; from app.core.config import get_settings; s = get_settings(); "
        "dsn = s.SENTRY_DSN and str(s.SENTRY_DSN.get_secret_value()); "
        "print(json.dumps({'ENVIRONMENT': s.ENVIRONMENT, 'SENTRY_DSN': dsn, "
        "'SENTRY_TRACES_SAMPLE_RATE': s.SENTRY_TRACES_SAMPLE_RATE, 'LOG_LEVEL': s.LOG_LEVEL, "
        "'log_format': s.log_format, 'debug_routes_enabled': s.debug_routes_enabled}))"
    )
    clean = {name: value for name, value in os.environ.items() if name.upper() not in settings_fields(project)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**clean, **variables},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def acme_orders(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """The must-show bake, run from the template folder as `cookiecutter --no-input . ...`."""
    return bake(
        tmp_path_factory.mktemp("acme"),
        cwd=TEMPLATE_DIR,
        template=".",
        project_name="Acme Orders",
        project_slug="acme-orders",
        environment="staging",
        sentry_dsn_staging=ACME_DSN,
    )


@pytest.fixture(scope="module")
def default_bake(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    return bake(tmp_path_factory.mktemp("defaults"))


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def environment_bake(
    request: pytest.FixtureRequest, bake: Bake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Baked]:
    environment: str = request.param
    answers = {f"sentry_dsn_{name}": dsn for name, dsn in DSNS.items()}
    return environment, bake(tmp_path_factory.mktemp(environment), environment=environment, **answers)


@pytest.fixture(scope="module")
def staged(environment_bake: tuple[str, Baked], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A copy of the baked project after `git init && git add --all`, and the names git staged."""
    _, baked = environment_bake
    checkout = shutil.copytree(baked.project, tmp_path_factory.mktemp("git") / "checkout")
    git(checkout, "init", "--quiet")
    git(checkout, "add", "--all")
    return checkout, git(checkout, "ls-files").splitlines()


@pytest.fixture(scope="module", params=TRICKY_TEXTS, ids=lambda text: f"{text[0]}-{text[1]}")
def tricky_bake(
    request: pytest.FixtureRequest, bake: Bake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Baked]:
    delivery, text = request.param
    workdir = tmp_path_factory.mktemp("tricky")
    answers = {"project_name": text, "project_description": text, "author_name": text}
    return text, bake(workdir, typed=delivery == "typed", project_slug="tricky-service", **answers)


@pytest.fixture(scope="module", params=list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
def rejected(request: pytest.FixtureRequest, bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Baked]:
    case: BadAnswer = request.param
    workdir = tmp_path_factory.mktemp("rejected")
    return case.field, bake(workdir, typed=case.typed, extra_args=case.extra_args, env=case.env, **case.answers)


@pytest.fixture(scope="module")
def rebaked(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """A staging project whose .env.staging was edited and .env.development deleted, then baked over again."""
    workdir = tmp_path_factory.mktemp("rebake")
    project = bake(workdir, environment="staging").project
    (project / ".env.staging").write_text("LOG_LEVEL=WARNING\n", encoding="utf-8")
    (project / ".env.development").unlink()
    return bake(workdir, environment="staging", extra_args=["--overwrite-if-exists"])


@pytest.fixture(scope="module")
def dsn_variable_bake(bake: Bake, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """DSNs from environment variables for staging and production; answers for development and production."""
    return bake(
        tmp_path_factory.mktemp("dsn-variables"),
        env={
            "SENTRY_DSN_STAGING": "  https://fromenv@o1.ingest.sentry.io/7\n",
            "SENTRY_DSN_PRODUCTION": "https://fromenv@o1.ingest.sentry.io/8",
        },
        sentry_dsn_development=f"  {DEV_DSN}\t",
        sentry_dsn_production="https://fromanswer@o1.ingest.sentry.io/9",
    )


def test_must_show_acme_orders_staging_bake(acme_orders: Baked) -> None:
    """cookiecutter --no-input . project_name="Acme Orders" project_slug=acme-orders environment=staging ..."""
    project = acme_orders.project

    assert project.name == "acme-orders"
    assert "ENVIRONMENT=staging" in (project / ".env").read_text(encoding="utf-8").splitlines()
    assert f"SENTRY_DSN={ACME_DSN}" in (project / ".env.staging").read_text(encoding="utf-8").splitlines()
    assert mode(project / ".env.staging") == 0o600


def test_replay_file_holds_no_dsn_when_template_path_is_relative(acme_orders: Baked) -> None:
    assert ACME_DSN not in acme_orders.replay_file.read_text(encoding="utf-8")


def test_default_bake_creates_the_project_files(default_bake: Baked) -> None:
    project = default_bake.project

    expected = {".gitignore", ".env.example", *ENV_FILES, "pyproject.toml", "app/core/config.py"}
    assert expected <= {path.relative_to(project).as_posix() for path in baked_files(project)}


def test_default_bake_leaves_no_jinja_unrendered(default_bake: Baked) -> None:
    assert unrendered_files(default_bake.project) == []


def test_baked_project_holds_no_tool_caches(default_bake: Baked) -> None:
    assert [path for path in default_bake.project.rglob("*") if path.name in TOOL_CACHES] == []


def test_bake_survives_output_closed_early(bake: Bake, tmp_path: Path) -> None:
    baked = bake(tmp_path, close_stdout=True, sentry_dsn_staging=DEV_DSN)

    assert baked.returncode == 0, baked.stderr
    assert (baked.project / ".env.staging").exists()


def test_rendered_hooks_do_not_outlive_the_bake(default_bake: Baked) -> None:
    assert list(default_bake.tmp_dir.rglob("*.py")) == []


def test_post_hook_prints_next_steps_in_order(default_bake: Baked) -> None:
    steps = default_bake.stdout.partition("Next steps:")[2].splitlines()
    commands = [line.strip() for line in steps if line.strip() and not line.strip().startswith(("#", "python"))]

    assert [command[: len(step)] for command, step in zip(commands, NEXT_STEPS, strict=True)] == NEXT_STEPS


@pytest.mark.parametrize("name", ENV_FILES)
def test_env_file_is_private(default_bake: Baked, name: str) -> None:
    assert mode(default_bake.project / name) == 0o600


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_file_holds_tuned_defaults(default_bake: Baked, environment: str) -> None:
    values = dotenv_values(default_bake.project / f".env.{environment}")

    assert values == {"SENTRY_DSN": "", "SENTRY_PROFILES_SAMPLE_RATE": "0.0", **TUNED[environment]}


def test_production_traces_no_more_than_development(default_bake: Baked) -> None:
    rate = {
        name: float(str(dotenv_values(default_bake.project / f".env.{name}")["SENTRY_TRACES_SAMPLE_RATE"]))
        for name in ENVIRONMENTS
    }

    assert rate["production"] <= rate["staging"] <= rate["development"]


def test_production_file_documents_database_url_without_setting_it(default_bake: Baked) -> None:
    text = (default_bake.project / ".env.production").read_text(encoding="utf-8")

    assert "DATABASE_URL" not in dotenv_values(default_bake.project / ".env.production")
    assert "# DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/my_service" in text.splitlines()


def test_env_example_documents_every_setting(default_bake: Baked) -> None:
    text = (default_bake.project / ".env.example").read_text(encoding="utf-8")
    documented = [match[1] for match in map(ASSIGNMENT.match, text.splitlines()) if match]

    assert sorted(documented) == sorted(settings_fields(default_bake.project))


def test_env_example_explains_each_setting_in_the_line_above(default_bake: Baked) -> None:
    lines = (default_bake.project / ".env.example").read_text(encoding="utf-8").splitlines()
    unexplained = [
        line
        for above, line in itertools.pairwise(lines)
        if ASSIGNMENT.match(line) and (ASSIGNMENT.match(above) or not above.startswith("# "))
    ]

    assert unexplained == []


def test_env_example_is_not_private(default_bake: Baked) -> None:
    assert mode(default_bake.project / ".env.example") & stat.S_IRGRP


def test_dotenv_sets_the_chosen_environment_and_local_defaults(environment_bake: tuple[str, Baked]) -> None:
    environment, baked = environment_bake
    development = environment == "development"

    assert dotenv_values(baked.project / ".env") == {
        "ENVIRONMENT": environment,
        "DATABASE_URL": "sqlite+aiosqlite:///./app.db",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "console" if development else "json",
    }


def test_each_environment_file_holds_its_own_dsn(environment_bake: tuple[str, Baked]) -> None:
    _, baked = environment_bake

    assert {name: dotenv_values(baked.project / f".env.{name}")["SENTRY_DSN"] for name in ENVIRONMENTS} == DSNS


def test_settings_load_the_env_files(environment_bake: tuple[str, Baked]) -> None:
    environment, baked = environment_bake
    database = {"DATABASE_URL": "postgresql+asyncpg://app:app@127.0.0.1:5432/app"}

    settings = load_settings(baked.project, **(database if environment == "production" else {}))

    assert settings == {
        "ENVIRONMENT": environment,
        "SENTRY_DSN": DSNS[environment],
        "SENTRY_TRACES_SAMPLE_RATE": float(TUNED[environment]["SENTRY_TRACES_SAMPLE_RATE"]),
        "LOG_LEVEL": TUNED[environment]["LOG_LEVEL"],
        "log_format": TUNED[environment]["LOG_FORMAT"],
        "debug_routes_enabled": environment != "production",
    }


def test_next_steps_mention_database_url_only_for_production(environment_bake: tuple[str, Baked]) -> None:
    environment, baked = environment_bake

    assert ("DATABASE_URL" in baked.stdout) == (environment == "production")


def test_git_stages_no_env_file_but_the_example(staged: tuple[Path, list[str]]) -> None:
    _, names = staged

    assert [name for name in names if Path(name).name.startswith(".env")] == [".env.example"]


def test_git_stages_every_other_baked_file(staged: tuple[Path, list[str]]) -> None:
    checkout, names = staged
    baked = {path.relative_to(checkout).as_posix() for path in baked_files(checkout)}

    assert baked - set(names) == set(ENV_FILES)


def test_git_tracks_no_file_holding_a_dsn(staged: tuple[Path, list[str]]) -> None:
    checkout, names = staged

    holding = [name for name in names if any(dsn.encode() in (checkout / name).read_bytes() for dsn in DSNS.values())]

    assert holding == []


def test_replay_file_holds_no_dsn_after_bake(environment_bake: tuple[str, Baked]) -> None:
    _, baked = environment_bake
    replay = baked.replay_file.read_text(encoding="utf-8")

    assert [dsn for dsn in DSNS.values() if dsn in replay] == []


def test_tricky_text_bakes(tricky_bake: tuple[str, Baked]) -> None:
    _, baked = tricky_bake

    assert baked.returncode == 0, baked.stdout + baked.stderr


def test_project_name_round_trips_through_config_py(tricky_bake: tuple[str, Baked]) -> None:
    text, baked = tricky_bake
    path = baked.project / "app" / "core" / "config.py"
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")

    literal = next(
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["PROJECT_NAME"]
    )
    assert ast.literal_eval(literal) == text


def test_description_and_author_round_trip_through_pyproject(tricky_bake: tuple[str, Baked]) -> None:
    text, baked = tricky_bake

    project = tomllib.loads((baked.project / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert (project["description"], project["authors"][0]["name"]) == (text, text)


def test_tricky_text_leaves_no_jinja_unrendered(tricky_bake: tuple[str, Baked]) -> None:
    _, baked = tricky_bake

    assert unrendered_files(baked.project) == []


def test_bad_answer_exits_non_zero(rejected: tuple[str, Baked]) -> None:
    _, baked = rejected

    assert baked.returncode != 0


def test_bad_answer_is_reported_in_one_line_naming_field_and_expected_form(rejected: tuple[str, Baked]) -> None:
    field, baked = rejected
    lines = baked.stderr.splitlines()

    assert len(lines) == 1, baked.stderr
    assert lines[0].startswith(f"{field}: ")
    assert "; expected " in lines[0]
    assert lines[0].isprintable()


def test_bad_answer_leaves_no_folder(rejected: tuple[str, Baked]) -> None:
    _, baked = rejected

    assert baked.leftovers == []
    assert {path.name for path in baked.workdir.iterdir()} <= SANDBOX


def test_bad_dsn_message_matches_the_spec(bake: Bake, tmp_path: Path) -> None:
    baked = bake(tmp_path, sentry_dsn_staging="htp://x")

    assert baked.stderr == (
        "sentry_dsn_staging: the value (not shown: it may hold a key) is not a Sentry DSN: it does not start with"
        " https://; expected https://<public_key>@<host>/<project_id>\n"
    )


def test_every_bad_answer_is_reported_in_one_run(bake: Bake, tmp_path: Path) -> None:
    baked = bake(
        tmp_path, project_slug="Bad Slug", author_email="nobody", version="first", sentry_dsn_staging="htp://x"
    )
    lines = baked.stderr.splitlines()

    assert baked.returncode != 0
    assert [line.split(":", 1)[0] for line in lines] == [
        "project_slug",
        "author_email",
        "version",
        "sentry_dsn_staging",
    ]
    assert all("; expected " in line for line in lines), baked.stderr
    assert baked.leftovers == []


@pytest.mark.parametrize(
    ("name", "slug"),
    [("3D Print Queue", "service-3d-print-queue"), ("!!!", "service"), ("App", "app-service")],
)
def test_awkward_name_bakes_into_the_derived_slug(bake: Bake, tmp_path: Path, name: str, slug: str) -> None:
    baked = bake(tmp_path, project_name=name)

    assert baked.project.name == slug


def test_empty_slug_is_refused_before_any_folder_is_made(bake: Bake, tmp_path: Path) -> None:
    # cookiecutter itself refuses first: the project folder would be the output folder, which exists.
    baked = bake(tmp_path, project_slug="")

    assert baked.returncode != 0
    assert baked.leftovers == []


def test_rejected_bake_leaves_no_dsn_in_replay_file(bake: Bake, tmp_path: Path) -> None:
    baked = bake(tmp_path, version="first", sentry_dsn_production=DEV_DSN)

    assert baked.returncode != 0
    assert DEV_DSN not in baked.replay_file.read_text(encoding="utf-8")


def test_replay_file_in_default_folder_holds_no_dsn(bake: Bake, tmp_path: Path) -> None:
    baked = bake(tmp_path, env={"COOKIECUTTER_CONFIG": None}, sentry_dsn_development=DEV_DSN)
    replay = baked.home / ".cookiecutter_replay" / f"{TEMPLATE_DIR.name}.json"

    assert baked.returncode == 0, baked.stdout + baked.stderr
    assert DEV_DSN not in replay.read_text(encoding="utf-8")


def test_rebake_keeps_an_edited_env_file(rebaked: Baked) -> None:
    assert (rebaked.project / ".env.staging").read_text(encoding="utf-8") == "LOG_LEVEL=WARNING\n"


def test_rebake_says_which_env_files_it_kept(rebaked: Baked) -> None:
    kept = re.findall(r"^Kept your existing (\S+):", rebaked.stdout, re.MULTILINE)

    assert kept == [".env", ".env.staging", ".env.production"]


def test_rebake_recreates_a_missing_env_file(rebaked: Baked) -> None:
    assert dotenv_values(rebaked.project / ".env.development")["LOG_FORMAT"] == "console"
    assert mode(rebaked.project / ".env.development") == 0o600


def test_dsn_from_environment_variable_fills_an_empty_answer(dsn_variable_bake: Baked) -> None:
    values = dotenv_values(dsn_variable_bake.project / ".env.staging")

    assert values["SENTRY_DSN"] == "https://fromenv@o1.ingest.sentry.io/7"


def test_dsn_answer_wins_over_environment_variable(dsn_variable_bake: Baked) -> None:
    values = dotenv_values(dsn_variable_bake.project / ".env.production")

    assert values["SENTRY_DSN"] == "https://fromanswer@o1.ingest.sentry.io/9"


def test_dsn_answer_is_trimmed(dsn_variable_bake: Baked) -> None:
    assert f"SENTRY_DSN={DEV_DSN}" in (dsn_variable_bake.project / ".env.development").read_text("utf-8").splitlines()


EVERY_ANSWER = {
    "project_name": "Billing Gateway",
    "project_slug": "billing-gw",
    "project_description": "Takes payments.",
    "author_name": "Payments Team",
    "author_email": "payments@example.org",
    "version": "2.3.0rc1",
    "python_version": "3.12",
    "environment": "production",
    "include_examples": "no",
    "include_worker": "yes",
    "sentry_dsn_development": "https://dev123@o1.ingest.sentry.io/1",
    "sentry_dsn_staging": "https://stg456@o1.ingest.sentry.io/2",
    "sentry_dsn_production": "https://prd789@o1.ingest.sentry.io/3",
}


def test_every_variable_can_be_answered_on_the_command_line(bake: Bake, tmp_path: Path) -> None:
    assert set(EVERY_ANSWER) == {
        key for key in json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text()) if not key.startswith("_")
    }
    project = bake(tmp_path, **EVERY_ANSWER).project
    assert project.name == "billing-gw"
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["name"] == "billing-gw"
    assert metadata["version"] == "2.3.0rc1"
    assert metadata["description"] == "Takes payments."
    assert metadata["authors"] == [{"name": "Payments Team", "email": "payments@example.org"}]
    assert metadata["requires-python"] == ">=3.12"
    config = (project / "app" / "core" / "config.py").read_text(encoding="utf-8")
    assert 'PROJECT_NAME = "Billing Gateway"' in config
    assert dotenv_values(project / ".env")["ENVIRONMENT"] == "production"
    for environment in ENVIRONMENTS:
        dsn = dotenv_values(project / f".env.{environment}")["SENTRY_DSN"]
        assert dsn == EVERY_ANSWER[f"sentry_dsn_{environment}"]
    assert not (project / "app" / "api" / "routes" / "posts.py").exists()

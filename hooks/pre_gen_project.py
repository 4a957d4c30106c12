"""Check every answer before cookiecutter renders a file.

Every bad answer at once: one line each on stderr that names the field, what is wrong and the expected form,
then a non-zero exit (cookiecutter then removes the project folder it made). Standard library only, no network.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Final

# cookiecutter renders this file with Jinja: `tojson` escapes quotes (' becomes \u0027), backslashes and every
# non-ASCII character, so the answers arrive as JSON text inside a raw string and are never pasted into code.
ANSWERS: Final[dict[str, object]] = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip

# The choices of cookiecutter.json (a test keeps them in step): a replay file bypasses cookiecutter's own check.
ENVIRONMENTS: Final = ("development", "staging", "production")
PYTHON_VERSIONS: Final = ("3.11", "3.12", "3.13")
YES_NO: Final = ("yes", "no")
DSN_FIELDS: Final = tuple(f"sentry_dsn_{environment}" for environment in ENVIRONMENTS)

SLUG_MAX_LENGTH: Final = 50
SLUG_EXPECTED: Final = (
    "lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit, at most "
    f"{SLUG_MAX_LENGTH} characters (a Kubernetes name must fit around it), e.g. acme-orders"
)
SLUG_PATTERN: Final = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")

# A slug that matches one of these (hyphens read as underscores) would replace or hide a module the service
# imports when the project is installed or run from its folder.
SHADOWED_MODULES: Final = frozenset(
    {
        "aiosqlite", "alembic", "anyio", "app", "asyncio", "asyncpg", "contextvars", "fastapi", "hatchling",
        "httpx", "json", "logging", "migrations", "mypy", "orjson", "pre_commit", "pydantic",
        "pydantic_settings", "pytest", "pytest_asyncio", "ruff", "sentry_sdk", "sqlalchemy", "starlette",
        "structlog", "tests", "typing", "uuid", "uvicorn", "xdist",
    }
)  # fmt: skip

# The "valid e-mail address" of the HTML Living Standard.
EMAIL_PATTERN: Final = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)

# VERSION_PATTERN of PEP 440's appendix (as in packaging.version), matched whole: no surrounding whitespace.
VERSION_PATTERN: Final = re.compile(
    r"""
    v?
    (?:
        (?:(?P<epoch>[0-9]+)!)?                           # epoch
        (?P<release>[0-9]+(?:\.[0-9]+)*)                  # release segment
        (?P<pre>                                          # pre-release
            [-_\.]?
            (?P<pre_l>(a|b|c|rc|alpha|beta|pre|preview))
            [-_\.]?
            (?P<pre_n>[0-9]+)?
        )?
        (?P<post>                                         # post release
            (?:-(?P<post_n1>[0-9]+))
            |
            (?:
                [-_\.]?
                (?P<post_l>post|rev|r)
                [-_\.]?
                (?P<post_n2>[0-9]+)?
            )
        )?
        (?P<dev>                                          # dev release
            [-_\.]?
            (?P<dev_l>dev)
            [-_\.]?
            (?P<dev_n>[0-9]+)?
        )?
    )
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?       # local version
    """,
    re.VERBOSE | re.IGNORECASE,
)

DSN_EXPECTED: Final = "https://<public_key>@<host>/<project_id>"
# scheme://public_key[:legacy_secret]@host[:port][/path/prefix]/project_id, as sentry-sdk's Dsn parses it.
DSN_PATTERN: Final = re.compile(
    r"""
    https?://
    [A-Za-z0-9]+ (?: :[A-Za-z0-9]+ )? @
    (?P<host> [A-Za-z0-9] (?: [A-Za-z0-9.-]* [A-Za-z0-9] )? | \[ [0-9A-Fa-f:.]+ \] )
    (?: : (?P<port> [0-9]{1,5} ) )?
    (?: / [A-Za-z0-9._~-]+ )*
    / [0-9]+
    """,
    re.VERBOSE | re.ASCII,
)
MAX_PORT: Final = 65535
REPLAY_DIR_LINE: Final = re.compile(r"""^replay_dir:[ \t]*(['"]?)(?P<path>.*?)\1(?:[ \t]+#.*)?[ \t]*$""", re.MULTILINE)
SHOWN_CHARACTERS: Final = 100


class AnswerError(Exception):
    """A bad answer; its message is the one line the user sees."""

    def __init__(self, field: str, value: object, problem: str, expected: str, *, secret: bool = False) -> None:
        what = "the value (not shown: it may hold a key)" if secret else shown(value)
        super().__init__(f"{field}: {what} {problem}; expected {expected}")


def shown(value: object) -> str:
    """The value as a one-line repr: control characters escaped, so a message cannot forge a second line."""
    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return repr(value[:SHOWN_CHARACTERS]) + "..."
    return repr(value)


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


def cookiecutter_config_file() -> Path | None:
    """The user config cookiecutter reads when no --config-file is given (a hook cannot see that option)."""
    configured = os.environ.get("COOKIECUTTER_CONFIG")
    if configured:
        return Path(configured)
    default = Path("~/.cookiecutterrc").expanduser()
    return default if default.is_file() else None


def replay_dir() -> Path:
    """The `replay_dir` of the user config (a plain top-level `replay_dir: path` line), else the default."""
    config = cookiecutter_config_file()
    text = ""
    if config is not None:
        try:
            text = config.read_text(encoding="utf-8")
        except OSError:
            text = ""
    match = REPLAY_DIR_LINE.search(text)
    if match and match["path"]:
        return Path(os.path.expandvars(match["path"])).expanduser()
    return Path("~/.cookiecutter_replay").expanduser()


def replay_files(folder: Path, answers: dict[str, object]) -> list[Path]:
    """The replay files of this bake: cookiecutter names them after the template folder as seen from its own
    working folder, which a hook cannot know, so match the template and output folders recorded inside."""
    ours = {key: answers.get(key) for key in ("_repo_dir", "_output_dir")}
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            recorded = json.loads(path.read_text(encoding="utf-8")).get("cookiecutter", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(recorded, dict) and all(recorded.get(key) == value for key, value in ours.items()):
            found.append(path)
    return found


def scrub_replay_file(path: Path) -> None:
    """Blank the DSNs cookiecutter stored in plain text; it writes the file before this hook runs."""
    try:
        replay = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        say(f"warning: could not read {path} to remove the Sentry DSNs from it: {error}")
        return
    changed = False
    for section in ("cookiecutter", "_cookiecutter"):
        answers = replay.get(section) if isinstance(replay, dict) else None
        if isinstance(answers, dict):
            for field in DSN_FIELDS:
                if answers.get(field):
                    answers[field] = ""
                    changed = True
    if changed:
        try:
            path.write_text(json.dumps(replay, indent=2), encoding="utf-8")
        except OSError as error:
            say(f"warning: could not remove the Sentry DSNs from {path}: {error}")


def text_answer(answers: dict[str, object], field: str) -> str:
    """The answer to `field`, which must be text."""
    value = answers.get(field)
    if not isinstance(value, str):
        raise AnswerError(field, value, "is not text", "a string answer")
    return value


def check_single_line(field: str, value: str) -> None:
    """Refuse control characters and line breaks: the value lands in source files, TOML and terminals."""
    for char in value:
        if unicodedata.category(char) in {"Cc", "Zl", "Zp"}:
            problem = f"contains a control character (U+{ord(char):04X})"
            raise AnswerError(field, value, problem, "one line of printable text")


def check_project_name(value: str) -> None:
    """The service's display name: any single line of text that is not blank."""
    if not value.strip():
        raise AnswerError("project_name", value, "is empty", "the service's name, e.g. Acme Orders")
    check_single_line("project_name", value)


def check_project_slug(value: str) -> None:
    """The folder and distribution name: a safe, lower-case name that shadows nothing the service imports."""
    if not value:
        raise AnswerError("project_slug", value, "is empty", SLUG_EXPECTED)
    if not SLUG_PATTERN.fullmatch(value):
        raise AnswerError("project_slug", value, "is not a valid slug", SLUG_EXPECTED)
    if len(value) > SLUG_MAX_LENGTH:
        raise AnswerError("project_slug", value, f"is {len(value)} characters long", SLUG_EXPECTED)
    module = value.replace("-", "_")
    if module in SHADOWED_MODULES:
        raise AnswerError(
            "project_slug",
            value,
            f"shadows the {module} module the service imports",
            f"another name, e.g. {value}-service",
        )


def check_author_email(value: str) -> None:
    """An e-mail address for the package metadata."""
    if not EMAIL_PATTERN.fullmatch(value):
        raise AnswerError("author_email", value, "is not an e-mail address", "name@example.com")


def check_version(value: str) -> None:
    """A PEP 440 version, as pip and hatchling read it."""
    if not VERSION_PATTERN.fullmatch(value):
        raise AnswerError("version", value, "is not a PEP 440 version", "e.g. 0.1.0, 1.0.0rc1 or 2.1.0.post1")


def check_choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    """One of the offered choices (a replay file can hold anything)."""
    if value not in choices:
        raise AnswerError(field, value, "is not one of the choices", "one of " + ", ".join(choices))


def sentry_dsn(answers: dict[str, object], environment: str) -> tuple[str, str]:
    """The environment's DSN, trimmed, and where it came from: the answer, else $SENTRY_DSN_<ENVIRONMENT>."""
    field = f"sentry_dsn_{environment}"
    answer = text_answer(answers, field).strip()
    variable = field.upper()
    if not answer and os.environ.get(variable, "").strip():
        return os.environ[variable].strip(), f" (from ${variable})"
    return answer, ""


def dsn_problem(value: str) -> str:
    """What is wrong with a value that is not a DSN, in words that never quote it."""
    scheme, separator, rest = value.partition("://")
    if not separator or scheme not in {"http", "https"}:
        return "does not start with https://"
    if "@" not in rest:
        return "has no <public_key>@ before the host"
    if not re.search(r"/[0-9]+\Z", rest):
        return "does not end in a numeric project id"
    return "has a key, host or port sentry-sdk refuses"


def check_sentry_dsn(field: str, value: str, source: str) -> None:
    """Empty (Sentry stays off), or a DSN sentry-sdk accepts. A bad value is never shown: it may hold a key."""
    if not value:
        return
    match = DSN_PATTERN.fullmatch(value)
    if not match or (match["port"] is not None and not 0 < int(match["port"]) <= MAX_PORT):
        problem = f"is not a Sentry DSN: it {dsn_problem(value)}"
        raise AnswerError(field + source, value, problem, DSN_EXPECTED, secret=True)


def regenerating_for_cruft(answers: dict[str, object]) -> bool:
    """Whether cruft is baking a throwaway copy to compare with or patch from (`cruft diff`, `cruft update`).

    cruft puts `_commit` into every context it bakes (plain cookiecutter never does), and for diff and update it
    bakes into a fresh `tempfile.TemporaryDirectory()`, so the project folder is `<temp folder>/tmpXXXXXXXX/<slug>`;
    `cruft create` bakes where the user asked. post_gen_project.py holds the same function (a test keeps them equal).
    """
    if "_commit" not in answers:
        return False
    project = Path.cwd().resolve()
    temp_folder = Path(tempfile.gettempdir()).resolve()
    return project.parent.parent == temp_folder and project.parent.name.startswith("tmp")


def dsn_answer_warnings(answers: dict[str, object]) -> list[str]:
    """One warning per DSN given as an answer to cruft, which keeps every answer in the tracked `.cruft.json`."""
    if "_commit" not in answers or regenerating_for_cruft(answers):
        return []
    return [
        f"warning: {field} was given as an answer: cruft stores it in .cruft.json, which git tracks and "
        f"`make check-dsn` refuses; empty the answer there and pass the DSN as ${field.upper()} instead"
        for field in DSN_FIELDS
        if isinstance(answers.get(field), str) and str(answers[field]).strip()
    ]


def check_answers(answers: dict[str, object]) -> list[str]:
    """The one-line message of every bad answer, in the order cookiecutter asks for them; empty when all are good."""
    checks: tuple[tuple[str, Callable[[str], None]], ...] = (
        ("project_name", check_project_name),
        ("project_slug", check_project_slug),
        ("project_description", partial(check_single_line, "project_description")),
        ("author_name", partial(check_single_line, "author_name")),
        ("author_email", check_author_email),
        ("version", check_version),
        ("python_version", partial(check_choice, "python_version", choices=PYTHON_VERSIONS)),
        ("environment", partial(check_choice, "environment", choices=ENVIRONMENTS)),
        ("include_examples", partial(check_choice, "include_examples", choices=YES_NO)),
        ("include_worker", partial(check_choice, "include_worker", choices=YES_NO)),
    )
    problems = []
    for field, check in checks:
        try:
            check(text_answer(answers, field))
        except AnswerError as error:
            problems.append(str(error))
    for environment in ENVIRONMENTS:
        try:
            check_sentry_dsn(f"sentry_dsn_{environment}", *sentry_dsn(answers, environment))
        except AnswerError as error:
            problems.append(str(error))
    return problems


def scrub_replay_files(answers: dict[str, object]) -> None:
    """Remove the DSN answers from this bake's replay files, or say where they may still be."""
    if not any(answers.get(field) for field in DSN_FIELDS):
        return
    if "_output_dir" not in answers:
        # Only cookiecutter's own command line (and main()) writes a replay file; cruft and other drivers never do.
        return
    folder = replay_dir()
    files = replay_files(folder, answers)
    if not files:
        say(f"note: no replay file of this bake in {folder}; a custom replay_dir may hold the Sentry DSNs")
    for path in files:
        scrub_replay_file(path)


def main() -> int:
    remove_rendered_copy()
    scrub_replay_files(ANSWERS)
    problems = check_answers(ANSWERS)
    for line in [*problems, *dsn_answer_warnings(ANSWERS)]:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

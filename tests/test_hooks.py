"""The hooks' building blocks, rendered by the same Jinja environment cookiecutter uses and imported."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from dotenv import dotenv_values

from tests.support.baking import HOOKS_DIR, TEMPLATE_DIR

HOOKS = ("pre_gen_project", "post_gen_project")
# On top of the template repository's own ruff rules: the generated project's stricter ones, and annotations.
EXTRA_RUFF_RULES = "N,A,PL,TRY,ANN,BLE,ARG,FBT"

TRICKY_ANSWERS = [
    "it's",
    'say "hi"',
    "'''",
    '"""',
    "back\\slash and \\n and \\u0041",
    "trailing backslash\\",
    "{{ cookiecutter.project_slug }}",
    "{% raw %}{# not a comment #}",
    "Café ☕ Orders 🚀",
    "</script>&amp;",
    "${HOME} $PATH %s {0}",
    "line\u2028separator",
    "nul\x00byte",
]


@pytest.fixture(scope="module")
def pre_hook(render_hook: Callable[..., ModuleType], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return render_hook("pre_gen_project", tmp_path_factory.mktemp("pre_hook"))


@pytest.fixture(scope="module")
def post_hook(render_hook: Callable[..., ModuleType], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return render_hook("post_gen_project", tmp_path_factory.mktemp("post_hook"))


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("answer", TRICKY_ANSWERS)
def test_hook_reads_answer_back_exactly(
    render_hook: Callable[..., ModuleType], tmp_path: Path, hook: str, answer: str
) -> None:
    module = render_hook(hook, tmp_path, project_name=answer)

    assert module.ANSWERS["project_name"] == answer


@pytest.mark.parametrize(
    "dsn",
    [
        "https://abc123@o1.ingest.sentry.io/42",
        "https://0123456789abcdef0123456789abcdef@o450000.ingest.us.sentry.io/4500000000000000",
        "http://key@localhost:9000/1",
        "https://key@sentry.example.com/path/prefix/17",
        "https://key:legacysecret@sentry.example.com/3",
        "https://key@10.0.0.5/5",
        "https://key@[::1]:9000/2",
    ],
)
def test_sentry_dsn_is_accepted(pre_hook: ModuleType, dsn: str) -> None:
    pre_hook.check_sentry_dsn("sentry_dsn_staging", dsn, "")


@pytest.mark.parametrize(
    "dsn",
    [
        "htp://x",
        "ftp://key@sentry.example.com/1",
        "https://sentry.example.com/1",
        "https://@sentry.example.com/1",
        "https://key@/1",
        "https://key@sentry.example.com",
        "https://key@sentry.example.com/",
        "https://key@sentry.example.com/project",
        "https://key@sentry.example.com/1/",
        "https://key@sentry.example.com:0/1",
        "https://key@sentry.example.com:70000/1",
        "https://key@sentry.example.com/1?query=1",
        "https://key@sentry.example.com/1#fragment",
        "https://key@-sentry.example.com/1",
        "https://key@sentry example.com/1",
        "https://ké@sentry.example.com/1",
        "https://key@sentry.example.com/1\n",
    ],
)
def test_malformed_sentry_dsn_is_rejected(pre_hook: ModuleType, dsn: str) -> None:
    with pytest.raises(
        pre_hook.AnswerError, match=r"^sentry_dsn_staging: .* is not a Sentry DSN: it .*; expected https://"
    ):
        pre_hook.check_sentry_dsn("sentry_dsn_staging", dsn, "")


def test_empty_sentry_dsn_is_accepted(pre_hook: ModuleType) -> None:
    pre_hook.check_sentry_dsn("sentry_dsn_production", "", "")


@pytest.mark.parametrize(
    "version", ["0.1.0", "1.0", "2025.11", "1.0.0rc1", "1.0a2", "1!2.0", "1.0.post1", "1.0.dev3", "1.0+local.7", "v1.0"]
)
def test_pep440_version_is_accepted(pre_hook: ModuleType, version: str) -> None:
    pre_hook.check_version(version)


@pytest.mark.parametrize("version", ["", "one", "latest", "1.0 final", " 1.0", "1.0 ", "1..0", "1.0+", "1.0+lo cal"])
def test_non_pep440_version_is_rejected(pre_hook: ModuleType, version: str) -> None:
    with pytest.raises(pre_hook.AnswerError, match=r"^version: .* is not a PEP 440 version; expected "):
        pre_hook.check_version(version)


@pytest.mark.parametrize("slug", ["acme-orders", "a", "orders2", "x-1-y", "double--hyphen"])
def test_slug_is_accepted(pre_hook: ModuleType, slug: str) -> None:
    pre_hook.check_project_slug(slug)


@pytest.mark.parametrize(
    "slug", ["", "Acme-Orders", "1password", "acme_orders", "acme-", "-acme", "acme orders", "../x"]
)
def test_malformed_slug_is_rejected(pre_hook: ModuleType, slug: str) -> None:
    with pytest.raises(
        pre_hook.AnswerError, match=r"^project_slug: .*; expected lower-case letters, digits and hyphens"
    ):
        pre_hook.check_project_slug(slug)


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_blank_project_name_is_rejected(pre_hook: ModuleType, name: str) -> None:
    with pytest.raises(pre_hook.AnswerError, match=r"^project_name: .* is empty; expected "):
        pre_hook.check_project_name(name)


@pytest.mark.parametrize(
    "slug",
    [
        "app",
        "tests",
        "alembic",
        "logging",
        "migrations",
        "sentry-sdk",
        "fastapi",
        "structlog",
        "sqlalchemy",
        "pydantic",
        "pydantic-settings",
        "uvicorn",
        "httpx",
    ],
)
def test_slug_shadowing_an_imported_module_is_rejected(pre_hook: ModuleType, slug: str) -> None:
    with pytest.raises(pre_hook.AnswerError, match=r"^project_slug: .* shadows the \w+ module the service imports"):
        pre_hook.check_project_slug(slug)


AWKWARD_NAMES = [
    "3D Print Queue",
    "42",
    "!!!",
    "🚀🚀🚀",
    "   --   ",
    "Ünïcode Ördérs",
    "订单服务",
    "Сервис заказов",
    "App",
    "Tests",
    "Sentry SDK",
    "pydantic settings",
    "x" * 300,
    "word " * 60,
    "Orders—v2 (beta) / EU",
    "-leading and trailing-",
]


def derived_slug(name: str) -> str:
    """The slug cookiecutter offers (and --no-input takes) for a project name."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(
        context_file=str(TEMPLATE_DIR / "cookiecutter.json"), extra_context={"project_name": name}
    )
    return str(prompt_for_config(context, no_input=True)["project_slug"])


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_derived_slug_is_always_accepted(pre_hook: ModuleType, name: str) -> None:
    slug = derived_slug(name)

    pre_hook.check_project_slug(slug)


def test_derived_slug_keeps_the_name_when_it_can() -> None:
    assert [derived_slug(name) for name in ("Acme Orders", "Ünïcode Ördérs", "3D Print Queue", "App")] == [
        "acme-orders",
        "unicode-orders",
        "service-3d-print-queue",
        "app-service",
    ]


def test_every_shadowed_module_is_known_to_the_slug_derivation(pre_hook: ModuleType) -> None:
    for module in pre_hook.SHADOWED_MODULES:
        pre_hook.check_project_slug(derived_slug(module.replace("_", " ")))


def test_all_bad_answers_are_reported_at_once(pre_hook: ModuleType) -> None:
    answers = {
        **pre_hook.ANSWERS,
        "project_name": " ",
        "version": "first",
        "environment": "prod",
        "include_examples": "maybe",
        "sentry_dsn_production": "https://k@o1.ingest.sentry.io/p",
    }

    problems = pre_hook.check_answers(answers)

    assert [problem.split(":", 1)[0] for problem in problems] == [
        "project_name",
        "version",
        "environment",
        "include_examples",
        "sentry_dsn_production",
    ]


def test_good_answers_have_no_problems(pre_hook: ModuleType) -> None:
    assert pre_hook.check_answers(pre_hook.ANSWERS) == []


def test_too_long_slug_is_rejected(pre_hook: ModuleType) -> None:
    with pytest.raises(pre_hook.AnswerError, match=r"^project_slug: .* is 51 characters long; expected "):
        pre_hook.check_project_slug("a" * 51)


@pytest.mark.parametrize("email", ["platform@example.com", "first.last+tag@mail.example.co.uk", "ops@localhost"])
def test_email_is_accepted(pre_hook: ModuleType, email: str) -> None:
    pre_hook.check_author_email(email)


@pytest.mark.parametrize("email", ["", "platform", "@example.com", "platform@", "a b@example.com", "a@b@c.com"])
def test_malformed_email_is_rejected(pre_hook: ModuleType, email: str) -> None:
    with pytest.raises(pre_hook.AnswerError, match=r"^author_email: .* is not an e-mail address; expected "):
        pre_hook.check_author_email(email)


@pytest.mark.parametrize(
    ("hook", "name"), [("pre", "PYTHON_VERSIONS"), ("pre", "ENVIRONMENTS"), ("post", "ENVIRONMENTS")]
)
def test_hook_choices_match_cookiecutter_json(
    pre_hook: ModuleType, post_hook: ModuleType, hook: str, name: str
) -> None:
    offered = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))[name.lower()[:-1]]

    assert getattr(pre_hook if hook == "pre" else post_hook, name) == tuple(offered)


def test_include_examples_choices_match_cookiecutter_json(pre_hook: ModuleType) -> None:
    offered = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))["include_examples"]

    assert tuple(offered) == pre_hook.YES_NO


@pytest.mark.parametrize("value", ["yes ", "Yes", "y", "true", ""])
def test_include_examples_outside_the_choices_is_rejected(pre_hook: ModuleType, value: str) -> None:
    answers = {**pre_hook.ANSWERS, "include_examples": value}

    assert [problem.split(":", 1)[0] for problem in pre_hook.check_answers(answers)] == ["include_examples"]


def test_include_worker_offers_yes_and_no_with_no_first(pre_hook: ModuleType) -> None:
    offered = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))["include_worker"]

    assert offered == ["no", "yes"]
    assert set(offered) == set(pre_hook.YES_NO)


@pytest.mark.parametrize("value", ["yes ", "No", "redis", ""])
def test_include_worker_outside_the_choices_is_rejected(pre_hook: ModuleType, value: str) -> None:
    answers = {**pre_hook.ANSWERS, "include_worker": value}

    assert [problem.split(":", 1)[0] for problem in pre_hook.check_answers(answers)] == ["include_worker"]


def test_worker_files_exist_in_the_template(post_hook: ModuleType) -> None:
    project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

    assert [name for name in post_hook.WORKER_FILES if not (project / name).is_file()] == []
    assert [name for name in post_hook.WORKER_FOLDERS if not (project / name).is_dir()] == []


def test_example_files_exist_in_the_template(post_hook: ModuleType) -> None:
    project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

    assert [name for name in post_hook.EXAMPLE_FILES if not (project / name).is_file()] == []


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\x1b[2J", "a\u2028b", "a\x85b", "evil\nproject_slug: ok"])
def test_message_shows_control_characters_escaped_on_one_line(pre_hook: ModuleType, value: str) -> None:
    with pytest.raises(pre_hook.AnswerError) as raised:
        pre_hook.check_single_line("project_name", value)

    message = str(raised.value)
    assert message.splitlines() == [message]
    assert message.isprintable()


def test_message_shortens_a_long_value(pre_hook: ModuleType) -> None:
    with pytest.raises(pre_hook.AnswerError) as raised:
        pre_hook.check_version("x" * 10_000)

    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "https://abc123@o1.ingest.sentry.io/42",
        "with space",
        "  padded  ",
        "it's",
        'say "hi"',
        "back\\slash\\n",
        "trailing\\",
        "\\'",
        "#not-a-comment",
        "a #not a comment",
        "$HOME and $",
        "multi\nline",
        "tab\there",
        "Café 🚀",
        "=equals=",
    ],
)
def test_dotenv_value_reads_back_exactly(post_hook: ModuleType, tmp_path: Path, value: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"KEY={post_hook.dotenv_value(value)}\nNEXT=1\n", encoding="utf-8")

    assert dotenv_values(env_file) == {"KEY": value, "NEXT": "1"}


def test_dotenv_value_refuses_what_python_dotenv_would_expand(post_hook: ModuleType) -> None:
    with pytest.raises(ValueError, match="would expand"):
        post_hook.dotenv_value("${HOME}")


@pytest.mark.usefixtures("permissive_umask")
def test_private_file_is_owner_only_whatever_the_umask(post_hook: ModuleType, tmp_path: Path) -> None:
    post_hook.write_private_file(tmp_path / ".env", "A=1\n")

    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


def test_private_file_keeps_an_existing_file(post_hook: ModuleType, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MINE=1\n", encoding="utf-8")

    written = post_hook.write_private_file(tmp_path / ".env", "A=1\n")

    assert not written
    assert (tmp_path / ".env").read_text(encoding="utf-8") == "MINE=1\n"


def test_replay_dir_defaults_to_home_folder(
    pre_hook: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COOKIECUTTER_CONFIG", raising=False)

    assert pre_hook.replay_dir() == tmp_path / ".cookiecutter_replay"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("replay_dir: /srv/replay", "/srv/replay"),
        ("replay_dir: '/srv/my replay'", "/srv/my replay"),
        ('replay_dir: "/srv/replay"  # answers', "/srv/replay"),
        ("replay_dir: ~/replay", "{home}/replay"),
        ("replay_dir: $REPLAY_ROOT/replay", "/srv/root/replay"),
    ],
)
def test_replay_dir_follows_cookiecutter_config_variable(
    pre_hook: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, expected: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"cookiecutters_dir: /srv/cache\n{line}\ndefault_context:\n  x: y\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("REPLAY_ROOT", "/srv/root")
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(config))

    assert pre_hook.replay_dir() == Path(expected.format(home=tmp_path))


def test_replay_dir_follows_user_cookiecutterrc(
    pre_hook: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".cookiecutterrc").write_text("replay_dir: /srv/replay\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COOKIECUTTER_CONFIG", raising=False)

    assert pre_hook.replay_dir() == Path("/srv/replay")


def test_scrub_blanks_every_dsn_and_keeps_other_answers(pre_hook: ModuleType, tmp_path: Path) -> None:
    answers = {"project_name": "Acme", "sentry_dsn_staging": "https://k@h.io/1", "sentry_dsn_production": ""}
    replay = tmp_path / "main.json"
    replay.write_text(json.dumps({"cookiecutter": answers, "_cookiecutter": answers}), encoding="utf-8")

    pre_hook.scrub_replay_file(replay)

    scrubbed = {**answers, "sentry_dsn_staging": ""}
    assert json.loads(replay.read_text(encoding="utf-8")) == {"cookiecutter": scrubbed, "_cookiecutter": scrubbed}


def test_replay_files_are_found_by_the_folders_recorded_inside(pre_hook: ModuleType, tmp_path: Path) -> None:
    ours = {"_repo_dir": ".", "_output_dir": "/srv/out"}
    for name, recorded in [("main", ours), ("other", {**ours, "_output_dir": "/srv/elsewhere"}), ("broken", None)]:
        (tmp_path / f"{name}.json").write_text(json.dumps({"cookiecutter": recorded}), encoding="utf-8")
    (tmp_path / "garbage.json").write_text("{not json", encoding="utf-8")

    assert pre_hook.replay_files(tmp_path, {"project_name": "x", **ours}) == [tmp_path / "main.json"]


def test_hook_scripts_pass_ruff() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--extend-select", EXTRA_RUFF_RULES, str(HOOKS_DIR)],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr

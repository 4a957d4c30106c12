"""What the hooks print: prompts that read as one question each, where each DSN came from, no DSN key ever."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.baking import BAKE_VARIABLES, HOOKS_DIR, TEMPLATE_DIR, Baked, default_answers

Bake = Callable[..., Baked]

KEY = "0123456789abcdef0123456789abcdef"
LEGACY_SECRET = "fedcba9876543210fedcba9876543210"  # noqa: S105 (a made-up key)
PROMPT_COUNTER = re.compile(r"(?=\[\d+/\d+\] )")
# (how the DSN arrives, the DSN): good and bad ones, each holding the key.
DSNS = [
    ("answer", f"https://{KEY}@o1.ingest.sentry.io/42"),
    ("answer", f"htps://{KEY}@o1.ingest.sentry.io/42"),
    ("answer", f"https://{KEY}:{LEGACY_SECRET}@o1.ingest.sentry.io/"),
    ("variable", f"https://{KEY}@o1.ingest.sentry.io/42"),
    ("variable", f"https://{KEY}@o1.ingest.sentry.io"),
    ("variable", KEY),
]


@pytest.mark.parametrize(("delivery", "dsn"), DSNS)
def test_no_hook_output_shows_a_dsn_key(bake: Bake, tmp_path: Path, delivery: str, dsn: str) -> None:
    if delivery == "answer":
        baked = bake(tmp_path, environment="staging", sentry_dsn_staging=dsn)
    else:
        baked = bake(tmp_path, environment="staging", env={"SENTRY_DSN_STAGING": dsn})
    output = baked.stdout + baked.stderr

    assert "sentry_dsn_staging" in output or "Sentry DSNs written" in output
    assert KEY not in output
    assert LEGACY_SECRET not in output


def test_bad_dsn_from_the_environment_names_its_variable(bake: Bake, tmp_path: Path) -> None:
    baked = bake(tmp_path, env={"SENTRY_DSN_PRODUCTION": f"https://{KEY}@o1.ingest.sentry.io"})

    assert baked.returncode != 0
    assert baked.stderr.startswith("sentry_dsn_production (from $SENTRY_DSN_PRODUCTION): the value (not shown")
    assert "does not end in a numeric project id" in baked.stderr


def test_next_steps_say_where_each_dsn_came_from(bake: Bake, tmp_path: Path) -> None:
    baked = bake(
        tmp_path,
        env={"SENTRY_DSN_STAGING": f"https://{KEY}@o1.ingest.sentry.io/7"},
        sentry_dsn_production=f"https://{KEY}@o1.ingest.sentry.io/9",
    )

    assert (
        "Sentry DSNs written (development: none given: Sentry off; staging: $SENTRY_DSN_STAGING;"
        " production: the answer)." in baked.stdout.splitlines()
    )


def prompts_as_shown(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Run cookiecutter at its prompts, every answer left at its default, and return what it printed, by prompt."""
    environment = {name: value for name, value in os.environ.items() if name not in BAKE_VARIABLES}
    environment |= {
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "400",
        **env,
    }
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f"replay_dir: {tmp_path / 'replay'}\ncookiecutters_dir: {tmp_path / 'cache'}\n", "utf-8")
    environment["COOKIECUTTER_CONFIG"] = str(config)
    questions = len([name for name in default_answers() if not name.startswith("_")])
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE_DIR), "--output-dir", str(tmp_path / "out")],
        input="\n" * questions,
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Typed answers are not echoed, so the prompts run together on one line: split them at their counters.
    asked = result.stdout.partition("Created ")[0]
    return [prompt.strip() for prompt in PROMPT_COUNTER.split(asked) if prompt.strip()]


def test_prompts_end_in_one_colon_after_their_default(tmp_path: Path) -> None:
    prompts = prompts_as_shown(tmp_path, {})

    assert len(prompts) >= 12
    assert [prompt for prompt in prompts if ": (" in prompt or "::" in prompt] == []


def test_dsn_prompts_say_an_empty_answer_takes_the_environment_variable(tmp_path: Path) -> None:
    prompts = prompts_as_shown(tmp_path, {"SENTRY_DSN_STAGING": f"https://{KEY}@o1.ingest.sentry.io/7"})
    (staging,) = [prompt for prompt in prompts if "Sentry DSN for staging" in prompt]

    assert "$SENTRY_DSN_STAGING is used when set" in staging
    assert KEY not in "\n".join(prompts)


def test_both_hooks_tell_a_cruft_regeneration_the_same_way() -> None:
    def function(hook: str) -> str:
        text = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
        start = text.index("def regenerating_for_cruft(")
        body = text[start:].split("\n\n\n", 1)[0]
        return body.replace("post_gen_project.py", "the other hook").replace("pre_gen_project.py", "the other hook")

    assert function("pre_gen_project") == function("post_gen_project")

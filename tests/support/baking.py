"""Bake the template the way a user does, in a sandbox, and keep what they would see.

`run_bake(workdir, **answers) -> Baked` runs `python -m cookiecutter` in a subprocess, so the hooks' exit codes,
stdout and stderr are what a user would get. Every bake gets its own HOME, TMPDIR and cookiecutter config under
`workdir`: nothing touches the real home folder, and the replay file and leftover temp files can be inspected.
Used by the template's tests (the `bake` fixture) and by the benchmark.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BakeError(AssertionError):
    """A bake that should have produced one project did not; the message holds cookiecutter's output."""


TEMPLATE_DIR = Path(__file__).resolve().parents[2]
HOOKS_DIR = TEMPLATE_DIR / "hooks"
# Variables that change what a bake does; each bake starts without them unless a test passes them.
BAKE_VARIABLES = ("COOKIECUTTER_CONFIG", "SENTRY_DSN_DEVELOPMENT", "SENTRY_DSN_STAGING", "SENTRY_DSN_PRODUCTION")
BAKE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Baked:
    """One run of cookiecutter: its result and the sandbox it ran in."""

    result: subprocess.CompletedProcess[str]
    workdir: Path
    output_dir: Path
    home: Path
    tmp_dir: Path
    replay_dir: Path

    @property
    def returncode(self) -> int:
        return self.result.returncode

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def stderr(self) -> str:
        return self.result.stderr

    @property
    def leftovers(self) -> list[Path]:
        """Everything cookiecutter left in the output folder."""
        return sorted(self.output_dir.iterdir()) if self.output_dir.exists() else []

    @property
    def project(self) -> Path:
        """The baked project folder; fails the test with cookiecutter's output when there is not exactly one."""
        if self.returncode != 0 or len(self.leftovers) != 1:
            raise BakeError(
                f"bake failed (exit {self.returncode}), left {self.leftovers}\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
            )
        return self.leftovers[0]

    @property
    def replay_file(self) -> Path:
        """Where cookiecutter stores this template's answers with the sandbox's config."""
        return self.replay_dir / f"{TEMPLATE_DIR.name}.json"


@functools.cache
def default_answers() -> dict[str, Any]:
    """What `--no-input` answers for every variable, private ones (`_copy_without_render`...) included."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(context_file=str(TEMPLATE_DIR / "cookiecutter.json"))
    return dict(prompt_for_config(context, no_input=True))


def typed_context(answers: Mapping[str, str]) -> dict[str, Any]:
    """A replay file's content holding `answers` exactly as a user would type them at the prompts.

    Answers on the command line are rendered as Jinja by cookiecutter (`{{ }}` in a name breaks the bake before
    any hook runs); typed and replayed answers are not. A replay file also bypasses cookiecutter's own check of
    choice answers, which is how a bad `environment` or `python_version` can reach the hooks.
    """
    return {"cookiecutter": {**default_answers(), **answers}}


def run_bake(
    workdir: Path,
    *,
    env: Mapping[str, str | None] | None = None,
    extra_args: Sequence[str] = (),
    typed: bool = False,
    template: str = str(TEMPLATE_DIR),
    cwd: Path | None = None,
    close_stdout: bool = False,
    **answers: str,
) -> Baked:
    """Bake the template into `workdir/out` and return what happened.

    answers: given on the command line with --no-input, or with typed=True through a replay file, as typed.
    env: extra environment variables for cookiecutter and the hooks (None removes one, e.g. COOKIECUTTER_CONFIG
    to use the default replay folder under the sandbox's HOME).
    close_stdout: close cookiecutter's output before it writes, as `cookiecutter ... | head -1` ends up doing.
    Calling it again with the same workdir bakes over the same output folder (add --overwrite-if-exists).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    home, tmp_dir, replay_dir = workdir / "home", workdir / "tmp", workdir / "replay"
    output_dir = workdir / "out"
    for folder in (home, tmp_dir, output_dir):
        folder.mkdir(exist_ok=True)
    config = workdir / "cookiecutter.yaml"
    config.write_text(
        f"replay_dir: {json.dumps(str(replay_dir))}\ncookiecutters_dir: {json.dumps(str(workdir / 'cache'))}\n",
        encoding="utf-8",
    )
    run_in = cwd or workdir
    environment = {name: value for name, value in os.environ.items() if name not in BAKE_VARIABLES}
    environment |= {"HOME": str(home), "TMPDIR": str(tmp_dir), "COOKIECUTTER_CONFIG": str(config)}
    environment |= {"PWD": str(run_in), "PYTHONIOENCODING": "utf-8"}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    command = [sys.executable, "-m", "cookiecutter", template, "--output-dir", str(output_dir), *extra_args]
    if typed:
        answers_file = workdir / "typed-answers.json"
        answers_file.write_text(json.dumps(typed_context(answers)), encoding="utf-8")
        command += ["--replay-file", str(answers_file)]
    else:
        command += ["--no-input", *(f"{name}={value}" for name, value in answers.items())]
    if close_stdout:
        with subprocess.Popen(
            command, cwd=run_in, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None
            process.stdout.close()
            _, stderr = process.communicate(timeout=BAKE_TIMEOUT_SECONDS)
        result = subprocess.CompletedProcess(command, process.returncode, "", stderr)
    else:
        result = subprocess.run(
            command,
            cwd=run_in,
            env=environment,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=BAKE_TIMEOUT_SECONDS,
            check=False,
        )
    return Baked(result, workdir, output_dir, home, tmp_dir, replay_dir)

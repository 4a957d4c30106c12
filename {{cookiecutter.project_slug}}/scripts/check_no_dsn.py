"""Fail when a file git tracks holds a Sentry DSN: DSNs belong in the git-ignored `.env.<ENVIRONMENT>` files.

`make check-dsn`, CI and the pre-commit hook run it. A DSN is known by its shape, `scheme://KEY@HOST/PROJECT_ID`
(a `:SECRET` after the key, a port and a path prefix allowed), when it points at Sentry's own hosts (`sentry.io`),
whatever the key, or when its key looks generated: Sentry's are 32 hex digits, and any key of 12 or more letters
and digits mixed counts. Made-up DSNs in tests (`https://public@example.com/1`) and placeholders
(`https://KEY@HOST/PROJECT`) pass. Standard library only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

DSN = re.compile(
    rb"""
    https?://
    (?P<key> [A-Za-z0-9]+ ) (?: :[A-Za-z0-9]+ )? @
    (?P<host> [A-Za-z0-9.-]+ | \[[0-9A-Fa-f:.]+\] ) (?: :[0-9]+ )?
    (?: /[A-Za-z0-9._~%-]+ )* / [0-9]+ \b
    """,
    re.VERBOSE,
)
SENTRY_HOST = re.compile(rb"(?:.+\.)?sentry\.io", re.IGNORECASE)
GENERATED_KEY = re.compile(rb"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{12,}")


def holds_a_dsn(line: bytes) -> bool:
    """Whether `line` holds a URL shaped like a DSN whose host is Sentry's or whose key looks generated."""
    return any(
        SENTRY_HOST.fullmatch(match["host"]) or GENERATED_KEY.fullmatch(match["key"]) for match in DSN.finditer(line)
    )


def git(*args: str) -> str:
    """Run git and return its output; raise OSError with git's own first line of complaint when it fails."""
    executable = shutil.which("git")
    if executable is None:
        raise OSError("git is not installed")
    # A fixed argument list, no shell.
    result = subprocess.run([executable, *args], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise OSError(result.stderr.strip().partition("\n")[0] or f"git {args[0]} exited {result.returncode}")
    return result.stdout


def tracked_files() -> tuple[Path, list[str]]:
    """The repository's top folder and every file in git's index, by its name from that folder."""
    root = Path(git("rev-parse", "--show-toplevel").strip())
    names = git("-C", str(root), "ls-files", "-z").split("\0")
    return root, [name for name in names if name]


def lines_holding_a_dsn(path: Path) -> list[int]:
    """The 1-based numbers of the lines of `path` that hold a DSN; none for a file missing from the disk."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return [number for number, line in enumerate(data.splitlines(), start=1) if holds_a_dsn(line)]


def main() -> int:
    try:
        root, names = tracked_files()
    except OSError as error:
        hint = "; run `git init` to make this folder a repository" if "not a git repository" in str(error) else ""
        print(f"check_no_dsn: cannot list the files git tracks: {error}{hint}", file=sys.stderr)
        return 2
    found = [(name, number) for name in names for number in lines_holding_a_dsn(root / name)]
    for name, number in found:
        print(f"{name}:{number}: holds a Sentry DSN", file=sys.stderr)
    if found:
        print(
            "Keep DSNs in the git-ignored .env.<ENVIRONMENT> files or the SENTRY_DSN variable, and remove them from"
            " the files above (in .cruft.json: the sentry_dsn_* answers).",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

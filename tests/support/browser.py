"""Headless Chromium from Debian's package, driven by Playwright, held to one origin.

    with open_browser(profile_dir) as browser:
        with browser.page(origin="http://127.0.0.1:8123") as (page, watch):
            page.goto(f"{origin}/docs")
        watch.foreign_requests  # every request to another origin, blocked and counted

Playwright's own browser download cannot work here, so Playwright drives `/usr/bin/chromium` (its
`executable_path`), which `ensure_installed` installs with apt-get when it is missing and we run as root, as
tests/support/postgres.py does for PostgreSQL. The browser starts with a new, empty profile and without any of
its own traffic (updates, sync, QUIC, first-run pages), so every request it makes is one a page asked for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
INSTALL_TIMEOUT_SECONDS = 900
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Every securitypolicyviolation event of every document, before any page script runs; read back per page.
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


class BrowserError(RuntimeError):
    """Chromium could not be installed or started."""


def ensure_installed() -> Path:
    """Return Chromium's path, installing Debian's `chromium` package first if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BrowserError(f"{CHROMIUM} not found: install Debian's `chromium` package or set CHROMIUM")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
        if result.returncode != 0:
            raise BrowserError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    if not CHROMIUM.exists():
        raise BrowserError(f"apt-get installed `chromium` but {CHROMIUM} is still missing")
    return CHROMIUM


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class PageWatch:
    """What one page did: console errors, uncaught errors, failed requests, requests to another origin."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "requests": len(self.requests),
            "console errors": len(self.console_errors),
            "failed requests": len(self.failed_requests),
            "foreign requests": len(self.foreign_requests),
            "CSP violations": len(self.csp_violations),
        }


class Browser:
    """A Chromium with one empty profile; `page(origin)` opens a page that may reach `origin` only."""

    def __init__(self, context: Any) -> None:
        self._context = context

    @contextmanager
    def page(self, origin: str) -> Iterator[tuple[Any, PageWatch]]:
        watch = PageWatch(origin)
        page = self._context.new_page()

        def route(route: Any) -> None:
            url = route.request.url
            if origin_of(url) == origin:
                route.continue_()
            else:
                watch.foreign_requests.append(url)
                route.abort("blockedbyclient")

        page.route("**/*", route)
        page.on("request", lambda request: watch.requests.append(request.url))
        page.on("console", lambda message: _console(watch, message))
        page.on("pageerror", lambda error: watch.console_errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: _failed(watch, request))
        try:
            yield page, watch
            watch.csp_violations = list(page.evaluate("window.__cspViolations || []"))
        finally:
            page.close()


def _console(watch: PageWatch, message: Any) -> None:
    if message.type == "error":
        watch.console_errors.append(message.text)


def _failed(watch: PageWatch, request: Any) -> None:
    if origin_of(request.url) == watch.origin:  # a foreign request is counted (and blocked) by the route
        watch.failed_requests.append(f"{request.method} {request.url}: {request.failure}")


@contextmanager
def open_browser(profile_dir: Path) -> Iterator[Browser]:
    """Headless Chromium with a new, empty profile in `profile_dir`, Debian's package installed first if needed."""
    from playwright.sync_api import sync_playwright

    executable = ensure_installed()
    profile_dir.mkdir(parents=True, exist_ok=False)  # a new, empty profile: no cache, no state from a run before
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(executable),
            headless=True,
            args=list(LAUNCH_FLAGS),
            viewport={"width": 1280, "height": 900},
        )
        context.add_init_script(_CSP_LISTENER)
        try:
            yield Browser(context)
        finally:
            context.close()

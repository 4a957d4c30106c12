"""A real Sentry-protocol server for end-to-end tests: bugsink on 127.0.0.1, and the queries tests make of it.

`Bugsink.start(data_dir)` installs bugsink (tests/e2e/bugsink_install.py), starts it with gunicorn on 127.0.0.1
with SQLite storage in `data_dir`, and returns a handle to create projects and read back what was stored.
Events are digested inside the ingest request (snappea's TASK_ALWAYS_EAGER), so an event can be read as soon
as the SDK's HTTP request has been answered.

Projects are created through bugsink's REST API, with a token made by its `create_auth_token` command.
Stored data is read from bugsink's SQLite database, opened read-only: events, issues, and the raw envelopes
bugsink keeps when its KEEP_ENVELOPES setting is on. A project is named by its DSN everywhere in this module.
"""

# Runs only our own pinned tools, and every URL is http://127.0.0.1:
# ruff: noqa: S310

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sized
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

from .bugsink_install import (
    BUGSINK_VERSION,
    BugsinkError,
    bugsink_env,
    ensure_template,
    ensure_venv,
    write_settings,
)
from .envelopes import project_id

_Found = TypeVar("_Found", bound=Sized)

# Sets Linux's parent-death signal, then becomes gunicorn: if the test process dies without its teardown,
# gunicorn gets SIGTERM instead of living on. (A preexec_fn could do this too, but can deadlock with threads.)
_LAUNCHER = """
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
if os.getppid() == int(os.environ.pop("E2E_PARENT_PID")):
    os.execv(sys.argv[1], sys.argv[1:])
"""


def _listening_socket() -> socket.socket:
    """A socket listening on a free 127.0.0.1 port, handed to gunicorn as is: no race for the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


class Bugsink:
    """A running bugsink server and the queries tests make against it. Create it with `Bugsink.start`."""

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        base_url: str,
        data_dir: Path,
        token: str,
        version: str,
        setup_seconds: float,
    ) -> None:
        self._process = process
        self._token = token
        self._team_id: str | None = None
        self.base_url = base_url
        """Where bugsink answers, e.g. `http://127.0.0.1:43123`; DSNs point here."""
        self.data_dir = data_dir
        """This run's settings, SQLite databases and server log."""
        self.version = version
        self.setup_seconds = setup_seconds
        """Time to make sure the virtualenv and template database exist: an import check when cached."""
        self.start_seconds = 0.0
        """Time from copying the template database to the first answer of the health check."""

    @classmethod
    def start(cls, data_dir: Path, *, version: str = BUGSINK_VERSION, ready_timeout: float = 60.0) -> Bugsink:
        """Install bugsink if needed and start it on a free 127.0.0.1 port, keeping its data in `data_dir`."""
        began = time.monotonic()
        venv = ensure_venv(version)
        template = ensure_template(venv)
        set_up = time.monotonic()

        data_dir.mkdir(parents=True, exist_ok=True)
        for name in ("db.sqlite3", "snappea.sqlite3"):
            shutil.copyfile(template / name, data_dir / name)
        listener = _listening_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        write_settings(data_dir, base_url)
        command = [
            str(venv / "bin" / "python"),
            "-c",
            _LAUNCHER,
            str(venv / "bin" / "gunicorn"),
            f"--bind=fd://{listener.fileno()}",
            "--workers=1",
            "--threads=4",
            "--timeout=60",
            "--graceful-timeout=5",
            "--no-control-socket",
            "--access-logfile=-",
            "--error-logfile=-",
            "--capture-output",
            "bugsink.wsgi",
        ]
        with (data_dir / "bugsink.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=data_dir,
                env={**bugsink_env(data_dir), "E2E_PARENT_PID": str(os.getpid())},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[listener.fileno()],
                start_new_session=True,
            )
        listener.close()
        server = cls(
            process=process,
            base_url=base_url,
            data_dir=data_dir,
            token=(template / "token").read_text().strip(),
            version=version,
            setup_seconds=set_up - began,
        )
        try:
            server._wait_until_ready(ready_timeout)
        except BaseException:
            server.stop()
            raise
        server.start_seconds = time.monotonic() - set_up
        return server

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BugsinkError(f"bugsink exited with {self._process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base_url}/health/ready", timeout=2) as response,
            ):
                if response.status == HTTPStatus.OK:
                    return
            time.sleep(0.05)
        raise BugsinkError(f"bugsink did not answer at {self.base_url} within {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gunicorn: SIGTERM, then SIGKILL to its process group if still running after `timeout` s."""
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # the group is ours: gunicorn leads its own session
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout)

    def __enter__(self) -> Bugsink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        """gunicorn's access and error log, with bugsink's own log lines."""
        return self.data_dir / "bugsink.log"

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/api/canonical/0/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise BugsinkError(f"{method} {path} answered {error.code}: {error.read()[:2000]!r}") from error

    def create_project(self, name: str) -> str:
        """Create a project and return its DSN, which every other method takes to name the project.

        Use one project per test (or per module) so that tests never see each other's events.
        """
        if self._team_id is None:
            self._team_id = str(self._api("POST", "teams/", {"name": "e2e"})["id"])
        created = self._api("POST", "projects/", {"name": name, "team": self._team_id})
        return str(self._api("GET", f"projects/{created['id']}/")["dsn"])

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(f"file:{self.data_dir / 'db.sqlite3'}?mode=ro", uri=True, timeout=10)
        try:
            yield connection
        finally:
            connection.close()

    def events(self, dsn: str) -> list[dict[str, Any]]:
        """Every event stored for the project, oldest first, each the full JSON payload bugsink stored.

        `event_id` is the 32-hex-digit id that `capture_exception` or `capture_message` returned. Only
        error and message events are stored: transactions, spans and sessions show up in `raw_envelopes` only.
        """
        with self._db() as db:
            rows = db.execute(
                "SELECT e.data FROM events_event e JOIN issues_issue i ON i.id = e.issue_id"
                " WHERE e.project_id = ? AND NOT i.is_deleted ORDER BY e.project_digest_order",
                (project_id(dsn),),
            ).fetchall()
        return [json.loads(data) for (data,) in rows]

    def event(self, dsn: str, event_id: str) -> dict[str, Any] | None:
        """The stored event with this SDK event id (hex, dashes optional), or None."""
        wanted = event_id.replace("-", "").lower()
        return next((event for event in self.events(dsn) if event.get("event_id") == wanted), None)

    def issues(self, dsn: str) -> list[dict[str, Any]]:
        """The project's issues, i.e. bugsink's grouping of its events, oldest first.

        Each is a dict with `id`, `title` (`"ValueError: boom"`; `"Log Message: ..."` for messages), `type`,
        `value`, `event_count` (events grouped into it), `stored_event_count`, `event_ids` (SDK event ids,
        oldest first), `first_seen` and `last_seen`.
        """
        with self._db() as db:
            issues = db.execute(
                "SELECT id, calculated_type, calculated_value, digested_event_count, stored_event_count,"
                " first_seen, last_seen FROM issues_issue WHERE project_id = ? AND NOT is_deleted"
                " ORDER BY digest_order",
                (project_id(dsn),),
            ).fetchall()
            event_ids: dict[str, list[str]] = {}
            for issue_id, event_id in db.execute(
                "SELECT issue_id, event_id FROM events_event WHERE project_id = ? ORDER BY project_digest_order",
                (project_id(dsn),),
            ):
                event_ids.setdefault(issue_id, []).append(event_id)
        return [
            {
                "id": issue_id,
                "title": f"{type_}: {value}" if value else type_,
                "type": type_,
                "value": value,
                "event_count": digested,
                "stored_event_count": stored,
                "event_ids": event_ids.get(issue_id, []),
                "first_seen": first_seen,
                "last_seen": last_seen,
            }
            for issue_id, type_, value, digested, stored, first_seen, last_seen in issues
        ]

    def raw_envelopes(self, dsn: str) -> list[bytes]:
        """Every envelope POSTed to the project's ingest URL, oldest first, as bytes after decompression.

        This includes what bugsink does not store as events (transactions, sessions, client reports) and
        envelopes it refused. `parse_envelope` reads one.
        """
        with self._db() as db:
            rows = db.execute(
                "SELECT data FROM ingest_envelope WHERE project_pk = ? ORDER BY ingested_at, id",
                (project_id(dsn),),
            ).fetchall()
        return [bytes(data) for (data,) in rows]

    def wait_for_events(self, dsn: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll until the project has at least `count` events and return them all; fail after `timeout` s.

        SDKs send from a background thread, so this is how a test waits for what a service reported. It
        returns as soon as `count` are there. To prove that something was *not* sent, make the service send
        something that must be sent afterwards, wait for that, then look at everything stored before it.
        """
        return self._wait(lambda: self.events(dsn), count, timeout, "events")

    def wait_for_envelopes(self, dsn: str, count: int, timeout: float = 10.0) -> list[bytes]:
        """Poll until the project has received at least `count` envelopes and return them all.

        bugsink records an envelope just after digesting its event, so right after `wait_for_events` the
        last envelope may still be a few milliseconds away: wait for envelopes with this.
        """
        return self._wait(lambda: self.raw_envelopes(dsn), count, timeout, "envelopes")

    def _wait(self, read: Callable[[], _Found], count: int, timeout: float, what: str) -> _Found:
        deadline = time.monotonic() + timeout
        while True:
            found = read()
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected at least {count} {what}, found {len(found)} after {timeout} s;"
                    f" end of the bugsink log:\n{self.log_tail(20)}"
                )
            time.sleep(0.05)

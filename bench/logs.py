"""What a log line costs with Sentry Logs off and on (``SENTRY_ENABLE_LOGS``), in process.

    python -m bench.logs [--lines 20000] [--rounds 3]

Bakes the service like the benchmark does, then re-runs itself in the service venv once per setting and round:
builds the app from the benchmark's environment (Sentry on, its DSN pointing at the local sink, JSON lines to
/dev/null), and writes ``--lines`` structlog lines with three fields and as many stdlib records, inside one
isolation scope as a request would. Prints the process's CPU time per line (the SDK's batching and sending
thread included, flushed before the clock stops) and what the sink received.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = ("off", "on")


def inner(lines: int, setting: str) -> None:
    sys.path.insert(0, str(Path.cwd()))
    os.environ["SENTRY_ENABLE_LOGS"] = "true" if setting == "on" else "false"
    import sentry_sdk
    import structlog
    from app.core.config import get_settings
    from app.main import create_app

    create_app(get_settings())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115, PTH123
    log = structlog.get_logger("app.orders")
    legacy = logging.getLogger("app.legacy")
    result = {}
    for kind in ("structlog", "stdlib"):
        with sentry_sdk.isolation_scope():
            start = time.process_time()
            for number in range(lines):
                if kind == "structlog":
                    log.info("order placed", order_id=number, customer="acme", amount=12.5)
                else:
                    legacy.info("order %s placed", number, extra={"customer": "acme"})
            sentry_sdk.flush()
            result[kind] = (time.process_time() - start) / lines * 1e6
    print(json.dumps(result))


def outer(lines: int, rounds: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import prepare
    from bench.run import production_tuning, service_env
    from bench.servers import Sink

    project = prepare.bake()
    python = str(prepare.service_python(project))
    database_url = f"sqlite+aiosqlite:///{prepare.cache_dir() / 'logs-bench.db'}"
    cells: dict[str, dict[str, list[float]]] = {s: {"structlog": [], "stdlib": []} for s in SETTINGS}
    with Sink(sys.executable) as sink:
        env = service_env(database_url, sink.dsn, production_tuning(project))
        for _ in range(rounds):
            for setting in SETTINGS:
                command = [python, str(Path(__file__).resolve()), "--inner", setting, "--lines", str(lines)]
                done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
                if done.returncode:
                    raise SystemExit(done.stderr)
                for kind, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                    cells[setting][kind].append(value)
        time.sleep(0.5)
        received = sink.stats()["items"]
    print(f"{lines} lines of each kind per run, {rounds} round(s); CPU microseconds per line, median (rounds)")
    print("| line | Sentry Logs off | on | added by a Sentry log |")
    print("|---|---:|---:|---:|")
    for kind in ("structlog", "stdlib"):
        off, on = (statistics.median(cells[s][kind]) for s in SETTINGS)
        rounds_text = ", ".join(f"{value:.1f}" for value in cells["on"][kind])
        print(f"| {kind} | {off:.1f} | {on:.1f} ({rounds_text}) | {on - off:.1f} |")
    print(f"sink received: {received}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inner", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.lines, args.inner)
    else:
        outer(args.lines, args.rounds)


if __name__ == "__main__":
    main()

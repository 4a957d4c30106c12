"""Where a request's CPU goes, in process: no server, no sockets, one ASGI call after another.

    python bench/profile_app.py [--design NAME=PATCH] [--sentry on|off|bare|floor] [--routes ok,trivial,404,500]
        [--traces 0.1] [-n 3000] [--cprofile FILE]

Bakes the service like the benchmark does, then re-runs itself in the service venv, builds the app from the
environment the benchmark uses (Sentry DSN pointing at the local sink), runs its lifespan, and calls it
directly ``-n`` times per route. Prints microseconds of CPU per request, and with ``--cprofile`` writes a pstats
file per route and prints its top functions.

``--sentry floor`` measures the least any request-logging layer costs, for scale: bare FastAPI alone, wrapped in
a pure-ASGI middleware that only watches the status, and wrapped in one that also writes a JSON line (orjson,
timestamp, duration) per request; no request id, no context variables, no Sentry.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROUTES = {
    "ok": ("GET", "/ok", b""),
    "trivial": ("GET", "/health/live", b""),
    "db": ("GET", "/api/v1/posts/1", b""),
    "404": ("GET", "/api/v1/no-such-route", b""),
    "422": ("POST", "/api/v1/posts", b"{}"),
    "500": ("GET", "/sentry-debug", b""),
}


def scope_for(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Any, method: str, path: str, body: bytes) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    try:
        await app(scope_for(method, path, body), receive, send)
    except Exception:  # bare FastAPI re-raises after answering 500, as uvicorn would see it
        status = status or 500
    return status


class StatusWatcher:
    """The least a request-logging middleware does: wrap ``send`` to learn the status; with a ``stream``, also
    write one JSON line per request (method, path, status, duration, timestamp) and flush it."""

    def __init__(self, app: Any, stream: Any = None) -> None:
        import orjson  # the service venv has it; the harness venv, which imports this module too, may not

        self.app = app
        self.stream = stream
        self.dumps = orjson.dumps
        self.options = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = 500
        start = time.perf_counter()

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if self.stream is not None:
                line = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    "timestamp": datetime.now(tz=UTC),
                }
                self.stream.write(self.dumps(line, option=self.options).decode())
                self.stream.flush()


# Requests per batch for the minimum reported next to the mean.
BATCH = 250


async def measure(
    app: Any, routes: list[str], n: int, profile_dir: Path | None, lifespan_of: Any = None
) -> dict[str, Any]:
    """CPU per request of each route; the lifespan run is ``lifespan_of``'s (a FastAPI app), by default ``app``'s."""
    out: dict[str, Any] = {}
    owner = lifespan_of or app
    async with owner.router.lifespan_context(owner):
        for name in routes:
            method, path, body = ROUTES[name]
            for _ in range(min(200, n)):
                await call(app, method, path, body)
            profiler = cProfile.Profile() if profile_dir else None
            start_cpu, start = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            # The cheapest batch of BATCH requests as well: on a shared machine the minimum moves far less than the
            # mean when other processes take the CPU now and then.
            fastest = float("inf")
            for done in range(0, n, BATCH):
                batch_start = time.process_time()
                for _ in range(min(BATCH, n - done)):
                    status = await call(app, method, path, body)
                if n - done >= BATCH:
                    fastest = min(fastest, time.process_time() - batch_start)
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
            out[name] = {"status": status, "cpu_us": round(cpu / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1)}
            if fastest < float("inf"):
                out[name]["cpu_us_min_batch"] = round(fastest / BATCH * 1e6, 1)
            if profiler and profile_dir:
                path_out = profile_dir / f"{name}.pstats"
                profiler.dump_stats(path_out)
                out[name]["pstats"] = str(path_out)
    return out


def inner(args: argparse.Namespace) -> None:
    import logging

    import uvloop

    if args.sentry == "floor":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bare_app import app as bare

        variants = {
            "bare": bare,
            "bare + middleware": StatusWatcher(bare),
            "bare + middleware + JSON line": StatusWatcher(bare, open(os.devnull, "w")),  # noqa: SIM115, PTH123
        }
        results = {}
        for _ in range(2):  # the second pass is kept: the first warms every variant
            results = {
                label: uvloop.run(measure(variant, args.routes.split(","), args.n, None, lifespan_of=bare))
                for label, variant in variants.items()
            }
        print(json.dumps(results))
        return
    if args.sentry == "bare":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bare_app import app
    else:
        sys.path[:0] = [str(Path.cwd()), str(Path(__file__).resolve().parent)]
        from service_app import app  # the baked app with the benchmark's API routes first, as bench/run.py serves it
    # The benchmark sends the service's stdout to a file; here it would flood the terminal.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115, PTH123
    profile_dir = Path(args.cprofile) if args.cprofile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    result = uvloop.run(measure(app, args.routes.split(","), args.n, profile_dir))
    print(json.dumps(result))


def outer(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import prepare
    from bench.run import SEED_SCRIPT, production_tuning, service_env
    from bench.servers import Sink

    patches = [Path(p).resolve() for p in args.design.partition("=")[2].split("+") if p] if args.design else []
    project = prepare.bake(patches)
    python = str(prepare.service_python(project))
    work = prepare.cache_dir() / "profile"
    work.mkdir(exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    tuning = production_tuning(project)
    subprocess.run([python, "-c", SEED_SCRIPT], cwd=project, env=service_env(database_url, "", tuning), check=True)
    with Sink(sys.executable) as sink:
        env = service_env(database_url, sink.dsn if args.sentry == "on" else "", tuning)
        if args.traces is not None:
            env["SENTRY_TRACES_SAMPLE_RATE"] = args.traces
        env["SENTRY_TRACE_LIFECYCLE"] = args.lifecycle
        command = [
            python,
            str(Path(__file__).resolve()),
            "--inner",
            "--sentry",
            args.sentry,
            "--routes",
            args.routes,
            "-n",
            str(args.n),
        ]
        if args.cprofile:
            command += ["--cprofile", str(Path(args.cprofile).resolve())]
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(done.stderr)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        time.sleep(0.5)
        stats = sink.stats()
    print(
        json.dumps(
            {
                "design": args.design or "current",
                "sentry": args.sentry,
                "routes": result,
                "sink": {"items": stats["items"], "last_event": stats["last_event"]},
            },
            indent=1,
        )
    )
    for name, cell in result.items():
        if "pstats" in cell:
            print(f"\n===== {name}: {cell['cpu_us']} us CPU per request (profiled) =====")
            pstats.Stats(cell["pstats"]).sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", default="", help="NAME=PATCH[+PATCH]: bake with proposal patches")
    parser.add_argument("--sentry", choices=["on", "off", "bare", "floor"], default="on")
    parser.add_argument("--routes", default="trivial,404,500")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--traces", default=None, help="a trace rate instead of production's, e.g. 0.1")
    parser.add_argument("--lifecycle", choices=["static", "stream"], default="static", help="the trace lifecycle")
    parser.add_argument("--cprofile", default="", help="a folder for pstats files; prints the top functions")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args)
    else:
        outer(args)


if __name__ == "__main__":
    main()

"""Where a request's CPU goes, in process: no server, no sockets, one ASGI call after another.

    python bench/profile_app.py [--design NAME=PATCH] [--sentry on|off|bare] [--routes trivial,404,500] [-n 3000]
        [--cprofile FILE]

Bakes the service like the benchmark does, then re-runs itself in the service venv, builds the app from the
environment the benchmark uses (Sentry DSN pointing at the local sink), runs its lifespan, and calls it
directly ``-n`` times per route. Prints microseconds of CPU per request, and with ``--cprofile`` writes a pstats
file per route and prints its top functions.
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
from pathlib import Path
from typing import Any

ROUTES = {
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


async def measure(app: Any, routes: list[str], n: int, profile_dir: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        for name in routes:
            method, path, body = ROUTES[name]
            for _ in range(min(200, n)):
                await call(app, method, path, body)
            profiler = cProfile.Profile() if profile_dir else None
            start_cpu, start = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            for _ in range(n):
                status = await call(app, method, path, body)
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
            out[name] = {"status": status, "cpu_us": round(cpu / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1)}
            if profiler and profile_dir:
                path_out = profile_dir / f"{name}.pstats"
                profiler.dump_stats(path_out)
                out[name]["pstats"] = str(path_out)
    return out


def inner(args: argparse.Namespace) -> None:
    import logging

    import uvloop

    if args.sentry == "bare":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bare_app import app
    else:
        sys.path.insert(0, str(Path.cwd()))
        from app.main import create_app

        app = create_app()
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
    from bench.run import SEED_SCRIPT, service_env
    from bench.servers import Sink

    patches = [Path(p).resolve() for p in args.design.partition("=")[2].split("+") if p] if args.design else []
    project = prepare.bake(patches)
    python = str(prepare.service_python(project))
    work = prepare.cache_dir() / "profile"
    work.mkdir(exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    subprocess.run([python, "-c", SEED_SCRIPT], cwd=project, env=service_env(database_url, ""), check=True)
    with Sink(sys.executable) as sink:
        env = service_env(database_url, sink.dsn if args.sentry == "on" else "")
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
    parser.add_argument("--sentry", choices=["on", "off", "bare"], default="on")
    parser.add_argument("--routes", default="trivial,404,500")
    parser.add_argument("-n", type=int, default=2000)
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

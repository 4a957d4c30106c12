"""Benchmark a baked service against bare FastAPI with the same routes.

    python -m bench                      # full run: 3 interleaved rounds, writes bench/results/ and docs/
    python -m bench --quick              # smoke run of a few seconds: only proves it produces numbers
    python -m bench --design p01=/tmp/change.patch --targets on   # compare a patch of the template with today

Each round starts every target in turn (bare FastAPI, the service with Sentry off, with Sentry on), loads each
route with wrk pinned to core 1 while uvicorn runs pinned to core 0, and stops it. Sentry's events go to a local
sink that accepts and discards them, so the SDK's transport does its real work. Ratios are per round (target
over bare, same round), then the median over rounds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from bench import loadgen, prepare, report
from bench.loadgen import PacedStream, Request
from bench.servers import BENCH_DIR, LOAD_CORE, REPO_DIR, Server, Sink, http_call

SEED_SCRIPT = """
import asyncio, os
from sqlalchemy.ext.asyncio import create_async_engine
from app.db.base import Base
from app.models.post import Post

async def main():
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(Post.__table__.insert().values(id=1, title="bench", body="one row"))
    await engine.dispose()

asyncio.run(main())
"""
VERSIONS_SCRIPT = """
import importlib.metadata as m, json
names = ["fastapi", "starlette", "sentry-sdk", "structlog", "uvicorn", "uvloop", "httptools", "pydantic",
         "sqlalchemy", "aiosqlite", "orjson"]
print(json.dumps({n: m.version(n) for n in names}))
"""


@dataclass(frozen=True)
class Route:
    name: str
    request: Request
    status: int
    label: str


ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        Route("ok", Request("GET", "/ok"), 200, "GET /ok (an API route returning a small JSON object)"),
        Route("item", Request("GET", "/items/42"), 200, "GET /items/42 (a path parameter)"),
        Route("db", Request("GET", "/api/v1/posts/1"), 200, "GET /api/v1/posts/1 (one row, SQLite)"),
        Route("404", Request("GET", "/api/v1/no-such-route"), 404, "GET unknown route"),
        Route("422", Request("POST", "/api/v1/posts", b"{}"), 422, "POST /api/v1/posts {}"),
        Route("500", Request("GET", "/sentry-debug"), 500, "GET /sentry-debug (ZeroDivisionError)"),
    )
}


# Routes loaded again at half of bare's measured capacity, open loop, for the tail at a rate a service runs at.
PACED_ROUTES = ("ok", "db", "404")
PACED_FRACTION = 0.5
# Service modes: Sentry off; on at production's trace rate (from the bake's .env.production); on at 10 %. The
# floors (bench/floor_app.py: bare FastAPI with an isolation scope and a sampled transaction per request, nothing
# else) at the same two rates are one target each, whatever the designs.
MODES = {"off": None, "on": None, "on10": "0.1", "floor": None, "floor10": "0.1"}
FLOORS = frozenset(report.FLOOR_OF.values())


@dataclass(frozen=True)
class Design:
    """A version of the template: today's, or today's with proposal patches applied."""

    name: str
    patches: tuple[Path, ...] = ()


@dataclass
class Target:
    name: str
    app: str
    app_dir: Path
    env: dict[str, str]
    design: str | None = None
    mode: str | None = None


@dataclass
class Options:
    rounds: int
    duration: float
    warmup: float
    connections: int
    storm_duration: float
    paced_duration: float
    calm_rate: float
    storm_rate: float
    routes: list[str]
    modes: list[str]
    designs: list[Design]
    output: Path
    docs: bool
    quick: bool
    tool: str
    lifecycle: str = "static"
    sentry_sdk: str | None = None
    results: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per route and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unrecorded load before each route")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--storm-duration", type=float, default=6.0, help="seconds of each calm/storm phase")
    parser.add_argument("--calm-rate", type=float, default=200.0, help="healthy req/s during calm and storm")
    parser.add_argument("--storm-rate", type=float, default=200.0, help="failing req/s during the storm")
    parser.add_argument("--routes", default=",".join(ROUTES), help=f"comma-separated, from {','.join(ROUTES)}")
    parser.add_argument("--targets", default="off,on,on10", help=f"service modes next to bare, from {','.join(MODES)}")
    parser.add_argument("--paced-duration", type=float, default=6.0, help="seconds of each paced half-capacity run")
    parser.add_argument(
        "--design",
        action="append",
        default=[],
        metavar="NAME[=PATCH[+PATCH...]]",
        help="a design to benchmark (repeatable); default: 'current', the template as it is",
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results", help="where results are written")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md and .png")
    parser.add_argument("--quick", action="store_true", help="a few seconds per target: proves it produces numbers")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument(
        "--lifecycle",
        choices=["static", "stream"],
        default="static",
        help="sentry-sdk's trace lifecycle for the service and the floor (SENTRY_TRACE_LIFECYCLE; default static)",
    )
    parser.add_argument(
        "--sentry-sdk",
        metavar="VERSION",
        help="run the service and the floor on this sentry-sdk (e.g. 3.0.0b2) instead of the pin's; 3.x needs "
        "--lifecycle stream, its only one",
    )
    args = parser.parse_args(argv)
    if args.sentry_sdk and not args.sentry_sdk.startswith("2.") and args.lifecycle != "stream":
        parser.error("sentry-sdk 3 streams spans only: add --lifecycle stream")

    designs = []
    for spec in args.design or ["current"]:
        name, _, patches = spec.partition("=")
        designs.append(Design(name, tuple(Path(p).resolve() for p in patches.split("+") if p)))
    options = Options(
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        storm_duration=args.storm_duration,
        paced_duration=args.paced_duration,
        calm_rate=args.calm_rate,
        storm_rate=args.storm_rate,
        routes=[r for r in args.routes.split(",") if r],
        modes=[m for m in args.targets.split(",") if m],
        designs=designs,
        output=args.output,
        docs=not args.no_docs and not args.quick,
        quick=args.quick,
        tool=args.tool,
        lifecycle=args.lifecycle,
        sentry_sdk=args.sentry_sdk,
    )
    if args.quick:
        options.rounds, options.duration, options.warmup = 1, 1.0, 0.0
        options.storm_duration, options.paced_duration, options.connections = 1.0, 1.0, 16
    unknown = set(options.routes) - set(ROUTES) or set(options.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown route or target: {sorted(unknown)}")
    return options


# ------------------------------------------------------------------------------------------------ set-up


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        wrk_version = (
            (done.stdout or done.stderr).splitlines()[0].split(" [")[0] if (done.stdout or done.stderr) else ""
        )
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_generator": wrk_version or "python (wrk not found)",
        "loadavg_start": list(os.getloadavg()),
    }


PRODUCTION_TUNING = ("SENTRY_TRACES_SAMPLE_RATE", "SENTRY_PROFILES_SAMPLE_RATE", "LOG_LEVEL", "LOG_FORMAT")


def production_tuning(project: Path) -> dict[str, str]:
    """The tuning the bake wrote into ``.env.production`` (trace rate, log level and format)."""
    tuning: dict[str, str] = {}
    for line in (project / ".env.production").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in PRODUCTION_TUNING:
            tuning[key.strip()] = value.strip()
    missing = set(PRODUCTION_TUNING) - tuning.keys()
    if missing:
        raise SystemExit(f"{project / '.env.production'} lacks {', '.join(sorted(missing))}")
    return tuning


def service_env(database_url: str, dsn: str, tuning: dict[str, str]) -> dict[str, str]:
    """Production's ``tuning`` on SQLite: ENVIRONMENT=staging (production refuses SQLite), debug routes on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DATABASE_", "LOG_", "ENVIRONMENT"))}
    return env | {
        "PYTHONPATH": str(BENCH_DIR),  # service_app.py imports the benchmark's API routes from here
        **tuning,
        "ENVIRONMENT": "staging",
        "DATABASE_URL": database_url,
        "SENTRY_DSN": dsn,
        "ENABLE_DEBUG_ROUTES": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def build_targets(
    options: Options, work: Path, sink: Sink, say: Any
) -> tuple[list[Target], str, dict[str, Any], dict[str, str]]:
    projects: dict[str, Path] = {}
    for design in options.designs:
        say(f"baking {design.name}" + (f" with {', '.join(p.name for p in design.patches)}" if design.patches else ""))
        projects[design.name] = prepare.bake(list(design.patches))
    first = projects[options.designs[0].name]
    say("preparing the service venv (uv, cached)")
    python = str(prepare.service_python(first, options.sentry_sdk))
    database = work / "bench.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    tuning = production_tuning(first)
    subprocess.run(
        [python, "-c", SEED_SCRIPT], cwd=first, env=service_env(database_url, "", tuning), check=True, timeout=60
    )
    versions = json.loads(subprocess.run([python, "-c", VERSIONS_SCRIPT], capture_output=True, check=True).stdout)

    targets = [Target("bare", "bare_app:app", BENCH_DIR, service_env(database_url, "", tuning))]
    for mode in (mode for mode in options.modes if mode in FLOORS):
        env = service_env(database_url, sink.dsn, tuning)
        env["SENTRY_TRACES_SAMPLE_RATE"] = MODES[mode] or tuning["SENTRY_TRACES_SAMPLE_RATE"]
        env["SENTRY_TRACE_LIFECYCLE"] = options.lifecycle
        targets.append(Target(mode, "floor_app:app", BENCH_DIR, env, None, mode))
    for design in options.designs:
        for mode in (mode for mode in options.modes if mode not in FLOORS):
            name = mode if len(options.designs) == 1 else f"{design.name}/{mode}"
            dsn = sink.dsn if mode != "off" else ""
            env = service_env(database_url, dsn, production_tuning(projects[design.name]))
            if MODES[mode] is not None:
                env["SENTRY_TRACES_SAMPLE_RATE"] = MODES[mode]
            if dsn:
                env["SENTRY_TRACE_LIFECYCLE"] = options.lifecycle
            targets.append(Target(name, "service_app:app", projects[design.name], env, design.name, mode))
    return targets, python, versions, tuning


# ------------------------------------------------------------------------------------------------ runs


def probe(port: int, route: Route, target: Target) -> dict[str, Any]:
    status, body = http_call(port, route.request.method, route.request.path, route.request.body)
    if status != route.status:
        raise RuntimeError(f"{target.name} {route.label}: expected {route.status}, got {status}: {body[:300]!r}")
    return {"status": status, "body": body[:200].decode("utf-8", "replace")}


def run_routes(options: Options, server: Server, target: Target, sink: Sink, round_no: int, say: Any) -> list[dict]:
    rows = []
    for name in options.routes:
        route = ROUTES[name]
        checked = probe(server.port, route, target)
        load = functools.partial(
            loadgen.closed_loop,
            server.url,
            route.request,
            connections=options.connections,
            core=LOAD_CORE,
            tool=options.tool,
        )
        if options.warmup > 0:
            load(duration=options.warmup)
        before = sink.stats() if target.mode not in (None, "off") else None
        result = load(duration=options.duration)
        row = {"round": round_no, "target": target.name, "design": target.design, "mode": target.mode}
        row |= {"route": name, **result.as_dict(), "probe": checked}
        if before is not None:
            # The SDK sends from a background thread, which the load starves: give it a moment to catch up.
            deadline = time.monotonic() + (5.0 if name == "500" else 0.2)
            while True:
                time.sleep(0.2)
                after = sink.stats()
                got = after["items"].get("event", 0) > before["items"].get("event", 0)
                if got or time.monotonic() > deadline:
                    break
            row["sink_events"] = after["items"].get("event", 0) - before["items"].get("event", 0)
            row["sink_transactions"] = after["items"].get("transaction", 0) - before["items"].get("transaction", 0)
            if name == "500":
                row["last_event"] = after.get("last_event")
        rows.append(row)
        say(
            f"  round {round_no} {target.name:>12} {name:>8}: {result.rps:9.1f} req/s  p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:7.2f} ms"
        )
    return rows


def run_storm(options: Options, server: Server, target: Target, round_no: int, say: Any) -> list[dict]:
    healthy = PacedStream("healthy", ROUTES["ok"].request, options.calm_rate, connections=16)
    failing = PacedStream("failing", ROUTES["500"].request, options.storm_rate, connections=32)
    rows = []
    for phase, streams in (("calm", [healthy]), ("storm", [healthy, failing])):
        results = loadgen.paced(server.url, streams, duration=options.storm_duration, core=LOAD_CORE)
        for stream, result in results.items():
            rows.append(
                {"round": round_no, "target": target.name, "phase": phase, "stream": stream, **result.as_dict()}
            )
        say(
            f"  round {round_no} {target.name:>12} {phase:>8}: healthy p50 {results['healthy'].p50_ms:7.2f} ms"
            f"  p99 {results['healthy'].p99_ms:7.2f} ms"
        )
    return rows


def run_paced(
    options: Options, server: Server, target: Target, rates: dict[str, float], say: Any
) -> list[dict[str, Any]]:
    """Each paced route at ``rates[route]`` req/s, open loop: latency counts from when a request was due."""
    rows = []
    for name, rate in rates.items():
        stream = PacedStream(name, ROUTES[name].request, rate, connections=options.connections)
        result = loadgen.paced(server.url, [stream], duration=options.paced_duration, core=LOAD_CORE)[name]
        rows.append({"target": target.name, "route": name, "rate": rate, **result.as_dict()})
        say(
            f"  paced {target.name:>12} {name:>8} at {rate:7.0f} req/s: p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:7.2f} ms"
        )
    return rows


def paced_rates(options: Options, runs: list[dict[str, Any]]) -> dict[str, float]:
    """Half of bare's median closed-loop throughput, per paced route measured in this run."""
    rates = {}
    for name in PACED_ROUTES:
        measured = [row["rps"] for row in runs if row["target"] == "bare" and row["route"] == name]
        if measured:
            rates[name] = round(PACED_FRACTION * sorted(measured)[len(measured) // 2], 1)
    return rates


def run(options: Options, say: Any = print) -> dict[str, Any]:
    started = time.time()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = prepare.cache_dir() / "runs" / stamp
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"started": stamp, "machine": machine()}
    with Sink(str(sys.executable)) as sink:
        targets, python, versions, tuning = build_targets(options, work, sink, say)
        results["versions"] = versions
        results["tuning"] = tuning
        results["config"] = {
            "rounds": options.rounds,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "connections": options.connections,
            "routes": {n: ROUTES[n].label for n in options.routes},
            "targets": [t.name for t in targets],
            "quick": options.quick,
            "lifecycle": options.lifecycle,
            "designs": {
                d.name: [str(p.relative_to(REPO_DIR)) if p.is_relative_to(REPO_DIR) else str(p) for p in d.patches]
                for d in options.designs
            },
            "storm": {
                "duration_s": options.storm_duration,
                "healthy_rps": options.calm_rate,
                "failing_rps": options.storm_rate,
            },
            "server": "uvicorn --loop uvloop --http httptools --no-access-log, 1 worker, taskset -c 0",
            "command": "python -m bench " + " ".join(sys.argv[1:]),
        }
        runs: list[dict] = []
        storms: list[dict] = []
        for round_no in range(1, options.rounds + 1):
            # Rotate the order each round so no target always runs first (or last) after a restart.
            shift = (round_no - 1) % len(targets)
            for target in targets[shift:] + targets[:shift]:
                with Server(
                    python, target.app, target.app_dir, target.env, work / f"{target.name.replace('/', '-')}.log"
                ) as server:
                    runs += run_routes(options, server, target, sink, round_no, say)
                    if "500" in options.routes and target.mode in (None, "on"):
                        storms += run_storm(options, server, target, round_no, say)
        rates = paced_rates(options, runs)
        paced_runs: list[dict] = []
        for target in targets:
            with Server(
                python, target.app, target.app_dir, target.env, work / f"{target.name.replace('/', '-')}-paced.log"
            ) as server:
                paced_runs += run_paced(options, server, target, rates, say)
        results["config"]["paced"] = {"fraction_of_bare": PACED_FRACTION, "duration_s": options.paced_duration}
        results["runs"] = runs
        results["storm_runs"] = storms
        results["paced_runs"] = paced_runs
        results["sink"] = sink.stats()
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["elapsed_s"] = round(time.time() - started, 1)
    results["summary"] = report.summarize(results)
    shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    results = run(options)
    paths = report.write(results, options.output, docs=options.docs)
    print(report.markdown_table(results))
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

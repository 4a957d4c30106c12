"""One worker against two: throughput of the baked service under `uvicorn --workers N`, and memory per process.

    python -m bench.workers                     # 2 interleaved rounds, 5 s per route: about a minute
    python -m bench.workers --quick             # a smoke run: proves it produces numbers

The service runs as `bench/run.py` runs it (production's tuning on SQLite, Sentry on, events to the local sink),
as `uvicorn service_app:app --workers N` (the service with the benchmark's API routes first), unpinned: two
workers need both cores. The load generator (wrk, or the Python one without it) is unpinned too, so on a 2-core
machine it competes with the workers: the 2-worker figure is what such a machine can give, not what two
dedicated cores would. Memory is read from `/proc/<pid>/smaps_rollup` after the load: RSS, PSS (shared pages
split among their users) and USS (pages only that process holds).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/workers.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from bench import loadgen, prepare
from bench.report import write_run
from bench.run import ROUTES, SEED_SCRIPT, production_tuning, service_env
from bench.servers import Server, Sink

BENCH_DIR = Path(__file__).resolve().parent
WORKER_COUNTS = (1, 2)
WORKER_ROUTES = ("ok", "db")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def memory(pid: int) -> dict[str, Any]:
    """RSS, PSS and USS of one process in MiB, and what it is (supervisor, worker, resource tracker)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        fields[key] = int(value.split()[0])
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    role = "tracker" if "resource_tracker" in command else "worker" if "spawn_main" in command else "server"
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"pid": pid, "role": role, "rss_mib": fields["Rss"] / 1024, "pss_mib": fields["Pss"] / 1024,
            "uss_mib": uss / 1024}  # fmt: skip


def run(options: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    project = prepare.bake()
    python = str(prepare.service_python(project))
    work = prepare.cache_dir() / "runs" / f"workers-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    tuning = production_tuning(project)
    subprocess.run([python, "-c", SEED_SCRIPT], cwd=project, env=service_env(database_url, "", tuning), check=True)
    rows: list[dict[str, Any]] = []
    memories: dict[int, list[dict[str, Any]]] = {}
    with Sink(sys.executable) as sink:
        env = service_env(database_url, sink.dsn, tuning)
        for round_no in range(1, options.rounds + 1):
            counts = WORKER_COUNTS if round_no % 2 else tuple(reversed(WORKER_COUNTS))
            for workers in counts:
                log = work / f"workers-{workers}.log"
                with Server(python, "service_app:app", project, env, log, workers=workers) as server:
                    for name in WORKER_ROUTES:
                        request = ROUTES[name].request
                        load = functools.partial(
                            loadgen.closed_loop, server.url, request, connections=options.connections, core=None,
                            tool=options.tool,
                        )  # fmt: skip
                        load(duration=options.warmup)
                        result = load(duration=options.duration)
                        rows.append({"round": round_no, "workers": workers, "route": name, **result.as_dict()})
                        say(f"  round {round_no} workers {workers} {name:>8}: {result.rps:9.1f} req/s"
                            f"  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms")  # fmt: skip
                    assert server.process is not None
                    pids = [server.process.pid, *children(server.process.pid)]
                    memories[workers] = [memory(pid) for pid in pids]
    return {"rows": rows, "memory": memories, "loadavg_end": list(os.getloadavg()), "config": vars(options)}


def markdown(results: dict[str, Any]) -> str:
    lines = ["| route | 1 worker req/s | 2 workers req/s | ratio |", "|---|---|---|---|"]
    for route in WORKER_ROUTES:
        medians = {
            workers: statistics.median(
                row["rps"] for row in results["rows"] if row["route"] == route and row["workers"] == workers
            )
            for workers in WORKER_COUNTS
        }
        lines.append(f"| {route} | {medians[1]:.0f} | {medians[2]:.0f} | {medians[2] / medians[1]:.2f}x |")
    lines += ["", "| workers | process | RSS MiB | PSS MiB | USS MiB |", "|---|---|---|---|---|"]
    for workers, processes in results["memory"].items():
        for process in processes:
            lines.append(
                f"| {workers} | {process['role']} | {process['rss_mib']:.0f} | {process['pss_mib']:.0f} |"
                f" {process['uss_mib']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per route and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unrecorded load before each route")
    parser.add_argument("--connections", type=int, default=64, help="connections (default 64)")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument("--quick", action="store_true", help="one round of 1 s per route")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results", help="where results are written")
    options = parser.parse_args(argv)
    if options.quick:
        options.rounds, options.duration, options.warmup = 1, 1.0, 0.2
    results = run(options)
    path = write_run(results, options.output, "workers")
    print(markdown(results))
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in results['loadavg_end'])}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

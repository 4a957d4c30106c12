"""Background jobs: how many jobs per second one worker runs with Sentry off and on, and what an enqueue adds to a
request.

    python -m bench.jobs                 # 3 interleaved rounds of 5000 jobs per target, then the enqueue cost
    python -m bench.jobs --quick         # a smoke run: proves it produces numbers

One run bakes ``include_worker=yes`` (examples on) once into the benchmark's cached venv (bench/prepare.py), starts
a real redis-server on 127.0.0.1 (tests/support/redis.py) and the Sentry sink (bench/sink.py), and writes into the
bake a no-op job (``bench.noop``) and a service app with two routes, one that enqueues that job and one that does
not. The service runs as bench/run.py runs it: production's tuning on SQLite, ENVIRONMENT=staging.

Throughput, for each target (``off``: no DSN; ``on``: DSN at the sink, production's trace rate; ``on100``: every job
traced), rounds alternating the order: N jobs are enqueued into a fresh stream, then ONE worker starts with
``make worker``'s command (``taskiq worker ... --workers 1``); the jobs themselves note when the first one started
and when the N-th one finished, in the worker process, so start-up is not counted.

Enqueue cost: in process, like bench/profile_app.py (no server, no sockets): CPU microseconds per request of
``POST /bench/enqueue`` (``await noop.kiq()`` onto the real Redis broker) and of ``POST /bench/plain`` (the same
route without it), per target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/jobs.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from bench import prepare
from bench.report import write_run
from bench.run import production_tuning, service_env
from bench.servers import LOAD_CORE, SERVER_CORE, Sink, pin
from tests.support.redis import RedisServer, redis_server

BENCH_DIR = Path(__file__).resolve().parent
ANSWERS = {"include_worker": "yes", "include_examples": "yes"}
TARGETS = ("off", "on", "on100")
WORKER_TIMEOUT_SECONDS = 300.0
# `make worker`'s command, with the benchmark's job module beside the bake's tasks.
WORKER_COMMAND = [
    "-m", "taskiq", "worker", "app.worker.broker:broker", "app.worker.tasks", "bench_jobs", "--workers", "1",
    "--no-configure-logging", "--wait-tasks-timeout", "20",
]  # fmt: skip

JOBS_SOURCE = '''\
"""The benchmark's job: nothing. The job that starts first and the N-th to finish write the clock to a file."""

import json
import os
import time
from pathlib import Path

from app.worker.broker import broker

STATE = {"finished": 0, "first": 0.0}


@broker.task(task_name="bench.noop")
async def noop(number: int) -> None:
    if STATE["finished"] == 0:
        STATE["first"] = time.perf_counter()
    STATE["finished"] += 1
    if STATE["finished"] == int(os.environ["BENCH_JOBS_N"]):
        elapsed = time.perf_counter() - STATE["first"]
        Path(os.environ["BENCH_JOBS_DONE"]).write_text(json.dumps({"jobs": STATE["finished"], "seconds": elapsed}))
'''

APP_SOURCE = '''\
"""The baked service plus two routes: one enqueues the benchmark's job, one does the same without. Written by
bench/jobs.py."""

import bench_jobs
from app.main import create_app

app = create_app()


@app.post("/bench/enqueue")
async def enqueue() -> dict[str, str]:
    return {"job_id": (await bench_jobs.noop.kiq(1)).task_id}


@app.post("/bench/plain")
async def plain() -> dict[str, str]:
    return {"job_id": "none"}
'''

ENQUEUE_SCRIPT = """
import asyncio, os
from app.worker.broker import broker
import bench_jobs

async def main():
    await broker.startup()  # declares the consumer group before the first job, so the worker sees every job
    for number in range(int(os.environ["BENCH_JOBS_N"])):
        await bench_jobs.noop.kiq(number)
    await broker.shutdown()

asyncio.run(main())
"""

# Runs in the service venv from the bake's folder: bench/profile_app.py's measurement, on the two routes above.
PROFILE_SCRIPT = """
import json, logging, os, sys
import uvloop
sys.path[:0] = [os.getcwd(), sys.argv[1]]
import profile_app
from bench_jobs_app import app
for handler in logging.getLogger().handlers:
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(open(os.devnull, "w"))
profile_app.ROUTES.update(enqueue=("POST", "/bench/enqueue", b""), plain=("POST", "/bench/plain", b""))
print(json.dumps(uvloop.run(profile_app.measure(app, ["plain", "enqueue"], int(sys.argv[2]), None))))
"""


def target_env(base: dict[str, str], target: str, sink: Sink, broker_url: str, queue: str) -> dict[str, str]:
    env = dict(base, SENTRY_DSN="" if target == "off" else sink.dsn, BROKER_URL=broker_url, BROKER_QUEUE=queue)
    if target == "on100":
        env["SENTRY_TRACES_SAMPLE_RATE"] = "1.0"
    return env


def pin_process(pid: int, core: int) -> None:
    if pin(core):
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True, capture_output=True)


def worker_round(python: str, project: Path, env: dict[str, str], work: Path, name: str, jobs: int) -> float:
    """Enqueue ``jobs`` jobs, run one worker until the last one finished; jobs per second."""
    done = work / f"{name}.json"
    env = dict(env, BENCH_JOBS_N=str(jobs), BENCH_JOBS_DONE=str(done))
    subprocess.run([python, "-c", ENQUEUE_SCRIPT], cwd=project, env=env, check=True, timeout=WORKER_TIMEOUT_SECONDS)
    with (work / f"{name}.log").open("wb") as log:
        worker = subprocess.Popen(
            [*pin(SERVER_CORE), python, *WORKER_COMMAND], cwd=project, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
        while not done.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"worker {name} did not finish {jobs} jobs:\n{tail}")
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one call; let it land before reading
        result = json.loads(done.read_text())
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
    return float(result["jobs"]) / float(result["seconds"])


def run(options: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    project = prepare.bake(answers=ANSWERS)
    (project / "bench_jobs.py").write_text(JOBS_SOURCE, encoding="utf-8")
    (project / "bench_jobs_app.py").write_text(APP_SOURCE, encoding="utf-8")
    python = str(prepare.service_python(project))
    work = prepare.cache_dir() / "runs" / f"jobs-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tuning = production_tuning(project)
    base = service_env(f"sqlite+aiosqlite:///{work / 'bench.db'}", "", tuning)
    rows: list[dict[str, Any]] = []
    enqueue: dict[str, Any] = {}
    loadavg_start = list(os.getloadavg())
    try:
        with redis_server() as redis, Sink(sys.executable) as sink:
            assert redis.process is not None
            pin_process(redis.process.pid, LOAD_CORE)
            for round_no in range(1, options.rounds + 1):
                order = TARGETS if round_no % 2 else tuple(reversed(TARGETS))
                for target in order:
                    name = f"{target}-{round_no}"
                    env = target_env(base, target, sink, redis.url, f"bench-{name}")
                    before = sink.stats()["items"]
                    rate = worker_round(python, project, env, work, name, options.jobs)
                    redis.command("FLUSHALL")
                    # What the worker sent to Sentry during its round: transactions, and client reports of drops.
                    sent = {item: count - before.get(item, 0) for item, count in sink.stats()["items"].items()}
                    rows.append({"round": round_no, "target": target, "jobs": options.jobs, "jobs_per_s": rate,
                                 "sink_items": {item: count for item, count in sent.items() if count}})  # fmt: skip
                    say(f"  round {round_no} {target:>6}: {rate:8.1f} jobs/s, to the sink {rows[-1]['sink_items']}")
            for target in TARGETS:
                enqueue[target] = profile_enqueue(python, project, target_env(base, target, sink, redis.url, "x"),
                                                  options.requests, redis)  # fmt: skip
                say(f"  enqueue {target:>6}: {enqueue[target]}")
            sink_items = sink.stats()["items"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "rows": rows, "enqueue": enqueue, "sink_items": sink_items, "tuning": tuning, "config": vars(options),
        "loadavg_start": loadavg_start, "loadavg_end": list(os.getloadavg()), "nproc": os.cpu_count(),
    }  # fmt: skip


def profile_enqueue(python: str, project: Path, env: dict[str, str], requests: int, redis: RedisServer) -> Any:
    command = [*pin(SERVER_CORE), python, "-c", PROFILE_SCRIPT, str(BENCH_DIR), str(requests)]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    redis.command("FLUSHALL")
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(results: dict[str, Any]) -> str:
    medians = {
        target: statistics.median(row["jobs_per_s"] for row in results["rows"] if row["target"] == target)
        for target in TARGETS
    }
    rate = {(row["round"], row["target"]): row["jobs_per_s"] for row in results["rows"]}
    rounds = sorted({row["round"] for row in results["rows"]})
    lines = ["| target | jobs/s (median) | per round | over off, per round | median |", "|---|---|---|---|---|"]
    for target in TARGETS:
        ratios = [rate[number, target] / rate[number, "off"] for number in rounds]
        lines.append(
            f"| {target} | {medians[target]:.0f} | {', '.join(f'{rate[number, target]:.0f}' for number in rounds)} |"
            f" {', '.join(f'{ratio:.2f}' for ratio in ratios)} | {statistics.median(ratios):.2f}x |"
        )
    lines += ["", "| target | CPU µs/request, no enqueue | with one enqueue | CPU added | wall time added µs |"]
    lines.append("|---|---|---|---|---|")
    for target, cells in results["enqueue"].items():
        plain, enqueue = cells["plain"], cells["enqueue"]
        added_cpu, added_wall = enqueue["cpu_us"] - plain["cpu_us"], enqueue["wall_us"] - plain["wall_us"]
        lines.append(
            f"| {target} | {plain['cpu_us']:.0f} | {enqueue['cpu_us']:.0f} | {added_cpu:.0f} | {added_wall:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default 3)")
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per round (default 5000)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per route for the enqueue cost")
    parser.add_argument("--quick", action="store_true", help="one round of 50 jobs, 250 requests per route")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results", help="where results are written")
    options = parser.parse_args(argv)
    if options.quick:
        options.rounds, options.jobs, options.requests = 1, 50, 250
    results = run(options)
    path = write_run(results, options.output, "jobs", markdown(results))
    print(markdown(results))
    load = " ".join(f"{x:.2f}" for x in results["loadavg_start"])
    print(f"load average at the start: {load}; sink received {results['sink_items']}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

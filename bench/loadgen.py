"""Load generators, all bounded in time and aimed at 127.0.0.1 only.

- ``closed_loop``: wrk (Debian's package) when it is on PATH, else a Python generator over asyncio keep-alive
  connections. N connections, each sends its next request as soon as the last one answered: this measures
  throughput (req/s) and latency at saturation.
- ``paced``: an open-loop Python generator that sends requests on a fixed schedule, whatever the server does, and
  measures each latency from the time the request *should* have been sent (no coordinated omission). The error
  storm uses it: a storm is an arrival rate, not a closed loop.

Runnable as ``python loadgen.py paced SPEC_JSON`` so that the harness can pin it to a core with taskset.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Request:
    """One kind of request, as both wrk and the Python generators send it."""

    method: str = "GET"
    path: str = "/"
    body: bytes = b""
    content_type: str = "application/json"

    def raw(self, host: str) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n"
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n"
        return head.encode() + b"\r\n" + self.body


@dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    tool: str = "wrk"

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _check_loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname != LOOPBACK or parts.port is None:
        raise ValueError(f"load is only ever sent to {LOOPBACK}:<port>, not {url}")
    return parts.hostname, parts.port


def _pin(core: int | None) -> list[str]:
    return ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []


# ---------------------------------------------------------------------------------------------------- wrk


def _wrk_script(request: Request) -> str:
    body = json.dumps(request.body.decode())
    return (
        f'wrk.method = "{request.method}"\nwrk.body = {body}\nwrk.headers["Content-Type"] = "{request.content_type}"\n'
    )


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read a wrk latency: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Requests, req/s, p50, p99, non-2xx and socket errors from ``wrk --latency`` output."""
    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (requests and rps and p50 and p99):
        raise ValueError(f"cannot read wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    total = int(requests.group(1))
    bad = int(non_2xx.group(1)) if non_2xx else 0
    return LoadResult(
        requests=total,
        seconds=_ms(requests.group(2) + requests.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        statuses={"2xx/3xx": total - bad, "other": bad},
        errors=sum(int(n) for n in socket.groups()) if socket else 0,
        tool="wrk",
    )


def wrk(url: str, request: Request, *, duration: float, connections: int, core: int | None) -> LoadResult:
    _check_loopback(url)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_wrk_script(request))
    try:
        command = [
            *_pin(core),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script.name,
            url.rstrip("/") + request.path,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=True)
    finally:
        Path(script.name).unlink(missing_ok=True)
    return parse_wrk(done.stdout)


# ---------------------------------------------------------------------------------------------------- Python


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class _Tally:
    """What the Python load generators count: latencies, status classes, failed connections."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        key = f"{status // 100}xx"
        self.statuses[key] = self.statuses.get(key, 0) + 1

    def result(self, seconds: float, tool: str) -> LoadResult:
        latencies = sorted(self.latencies)
        return LoadResult(
            requests=len(latencies),
            seconds=seconds,
            rps=len(latencies) / seconds if seconds else 0.0,
            p50_ms=_percentile(latencies, 0.50) * 1000,
            p99_ms=_percentile(latencies, 0.99) * 1000,
            statuses=self.statuses,
            errors=self.errors,
            tool=tool,
        )


async def _closed_loop(url: str, request: Request, duration: float, connections: int) -> LoadResult:
    host, port = _check_loopback(url)
    raw = request.raw(f"{host}:{port}")
    tally = _Tally()
    deadline = time.perf_counter() + duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                writer.write(raw)
                status = await _read_response(reader)
                tally.add(status, time.perf_counter() - start)
        except (OSError, asyncio.IncompleteReadError):
            tally.errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(connections))), duration + 30)
    return tally.result(time.perf_counter() - start, "python")


@dataclass
class PacedStream:
    """Requests of one kind sent at ``rate`` per second over ``connections`` keep-alive connections."""

    name: str
    request: Request
    rate: float
    connections: int = 16


async def _paced(url: str, streams: list[PacedStream], duration: float) -> dict[str, LoadResult]:
    host, port = _check_loopback(url)
    begin = time.perf_counter() + 0.2
    deadline = begin + duration
    results: dict[str, LoadResult] = {}

    async def run(stream: PacedStream) -> None:
        raw = stream.request.raw(f"{host}:{port}")
        tally = _Tally()
        total = int(duration * stream.rate)
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while next_index < total:
                    index = next_index
                    next_index += 1
                    scheduled = begin + index / stream.rate
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    writer.write(raw)
                    status = await _read_response(reader)
                    # Measured from when the request was due, so a stalled server shows in the latency.
                    tally.add(status, time.perf_counter() - scheduled)
            except (OSError, asyncio.IncompleteReadError):
                tally.errors += 1
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(stream.connections)))
        results[stream.name] = tally.result(duration, "paced")

    await asyncio.wait_for(asyncio.gather(*(run(stream) for stream in streams)), deadline - time.perf_counter() + 30)
    return results


def closed_loop(
    url: str, request: Request, *, duration: float, connections: int, core: int | None, tool: str = "auto"
) -> LoadResult:
    """Saturating load for ``duration`` seconds; wrk if available (or ``tool="wrk"``), else Python."""
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return wrk(url, request, duration=duration, connections=connections, core=core)
    spec = {"url": url, "request": request.__dict__ | {"body": request.body.decode()}, "duration": duration}
    spec["connections"] = connections
    return LoadResult(**_run_pinned("closed", spec, core, duration))


def paced(url: str, streams: list[PacedStream], *, duration: float, core: int | None) -> dict[str, LoadResult]:
    """Open-loop load, pinned to ``core`` in a process of its own."""
    spec = {
        "url": url,
        "duration": duration,
        "streams": [s.__dict__ | {"request": s.request.__dict__ | {"body": s.request.body.decode()}} for s in streams],
    }
    out = _run_pinned("paced", spec, core, duration)
    return {name: LoadResult(**value) for name, value in out.items()}


def _run_pinned(kind: str, spec: dict[str, Any], core: int | None, duration: float) -> Any:
    command = [*_pin(core), sys.executable, str(Path(__file__).resolve()), kind, json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    return json.loads(done.stdout)


def _request_of(spec: dict[str, Any]) -> Request:
    return Request(**{**spec, "body": spec["body"].encode()})


def main() -> None:
    kind, spec = sys.argv[1], json.loads(sys.argv[2])
    if kind == "closed":
        result = asyncio.run(
            _closed_loop(spec["url"], _request_of(spec["request"]), spec["duration"], spec["connections"])
        )
        print(json.dumps(result.as_dict()))
    elif kind == "paced":
        streams = [
            PacedStream(s["name"], _request_of(s["request"]), s["rate"], s["connections"]) for s in spec["streams"]
        ]
        results = asyncio.run(_paced(spec["url"], streams, spec["duration"]))
        print(json.dumps({name: result.as_dict() for name, result in results.items()}))
    else:
        raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    main()

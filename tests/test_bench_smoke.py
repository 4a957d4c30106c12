"""The benchmark harness runs end to end: `python -m bench --quick` bakes, serves, loads and reports numbers.

A smoke run only: one short round per target, so the numbers prove nothing about speed, only that every route
answered with the status it should and every output was written. The baked project's venv is cached under
the template's cache folder (tests/support/harness.py), so after the first run this takes well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import prepare

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
QUICK_TIMEOUT_SECONDS = 240
# A sentry-sdk 3 release to run the bench on (the sentry-sdk 3 tier, tests/test_sdk3.py, takes the newest).
SENTRY_SDK_3 = "3.0.0b2"


def run_harness(*args: str) -> str:
    """Run a harness command with this Python from the template's root; its stdout, once it has succeeded."""
    result = subprocess.run(
        [sys.executable, *args],
        cwd=TEMPLATE_DIR,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("bench-results")
    # A run must never rewrite the committed docs page: --quick writes only into --output.
    docs_before = (
        (TEMPLATE_DIR / "docs" / "benchmarks.md").read_bytes()
        if (TEMPLATE_DIR / "docs" / "benchmarks.md").exists()
        else None
    )
    run_harness("-m", "bench", "--quick", "--output", str(output))
    docs_after = (TEMPLATE_DIR / "docs" / "benchmarks.md").read_bytes() if docs_before is not None else None
    assert docs_after == docs_before, "a quick run must not touch docs/benchmarks.md"
    return output


def _env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of an env file written by the bake."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _results(output: Path) -> dict[str, Any]:
    return dict(json.loads((output / "latest.json").read_text()))


def test_quick_run_writes_json_markdown_and_chart(quick_run: Path) -> None:
    assert (quick_run / "latest.json").stat().st_size > 0
    assert (quick_run / "latest.md").stat().st_size > 0
    assert list(quick_run.glob("*-quick.png")), "the chart was not drawn"


def test_every_route_has_throughput_and_latency_for_every_target(quick_run: Path) -> None:
    summary = _results(quick_run)["summary"]["routes"]
    assert set(summary) == {"ok", "item", "db", "404", "422", "500"}
    for route, cells in summary.items():
        assert set(cells) == {"bare", "off", "on", "on10"}, route
        for target, cell in cells.items():
            for key in ("rps", "p50_ms", "p99_ms"):
                value = cell[key]
                assert isinstance(value, float | int), (route, target, key)
                assert math.isfinite(value), (route, target, key)
                assert value > 0, (route, target, key)
            if target != "bare":
                assert cell["ratio"] > 0, (route, target)


def test_sentry_events_reach_the_local_sink_with_a_stack_trace(quick_run: Path) -> None:
    event = _results(quick_run)["summary"]["routes"]["500"]["on"]["last_event"]
    assert event is not None, "no error event reached the sink"
    assert event["exception_types"] == ["ZeroDivisionError"]
    assert event["frames"] > 0


def test_results_name_the_machine_and_library_versions(quick_run: Path) -> None:
    results = _results(quick_run)
    assert results["machine"]["nproc"] >= 1
    assert results["machine"]["cpu_model"]
    assert {"fastapi", "starlette", "sentry-sdk", "uvicorn"} <= set(results["versions"])
    markdown = (quick_run / "latest.md").read_text()
    assert "| ok |" in markdown
    assert "req/s" in markdown


def test_the_service_runs_with_the_tuning_the_bake_gave_production(quick_run: Path) -> None:
    tuning = _results(quick_run)["tuning"]
    production = _env_file(prepare.bake() / ".env.production")  # the run's own bake, from the cache
    keys = {"SENTRY_TRACES_SAMPLE_RATE", "SENTRY_PROFILES_SAMPLE_RATE", "LOG_LEVEL", "LOG_FORMAT"}
    assert tuning == {key: production[key] for key in keys}
    assert f"SENTRY_TRACES_SAMPLE_RATE={tuning['SENTRY_TRACES_SAMPLE_RATE']}" in (quick_run / "latest.md").read_text()


@pytest.mark.parametrize("mode", ["floor", "off"])
def test_in_process_profiler_reports_cpu_per_request(mode: str) -> None:
    output = run_harness("bench/profile_app.py", "--sentry", mode, "--routes", "trivial,404", "-n", "200")
    routes = json.loads(output)["routes"]
    # floor: {variant: {route: cell}}; a service mode: {route: cell}
    cells = [cell for variant in routes.values() for cell in variant.values()] if mode == "floor" else routes.values()
    statuses = sorted(cell["status"] for cell in cells)
    assert statuses == ([200] * 3 + [404] * 3 if mode == "floor" else [200, 404])
    assert all(cell["cpu_us"] > 0 for cell in cells)


def test_error_storm_reports_healthy_latency_calm_and_storm(quick_run: Path) -> None:
    storm = _results(quick_run)["summary"]["storm"]
    for target in ("bare", "on"):
        assert storm[target]["calm_p99"] > 0
        assert storm[target]["storm_p99"] > 0


def test_paced_half_capacity_run_reports_latency_for_every_target(quick_run: Path) -> None:
    results = _results(quick_run)
    paced = results["summary"]["paced"]
    bare_rps = results["summary"]["routes"]

    assert {(row["target"], row["route"]) for row in paced} == {
        (target, route) for target in ("bare", "off", "on", "on10") for route in ("ok", "db", "404")
    }
    for row in paced:
        assert row["rate"] == pytest.approx(0.5 * bare_rps[row["route"]]["bare"]["rps"], rel=0.01)
        assert row["requests"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]


def test_tail_goals_are_checked_for_api_db_and_404_routes(quick_run: Path) -> None:
    checks = _results(quick_run)["summary"]["checks"]
    tails = {check["what"] for check in checks if check["target"] == "on10" and "p99" in check["what"]}

    assert tails == {
        f"{route} {what}"
        for route in ("ok", "db", "404")
        for what in ("p99/p50 at saturation, over bare's", "p99 paced at half of bare's capacity, over bare's")
    }


def test_workers_run_reports_throughput_and_memory_per_process(tmp_path: Path) -> None:
    run_harness("-m", "bench.workers", "--quick", "--output", str(tmp_path))
    (written,) = tmp_path.glob("*-workers.json")
    results = json.loads(written.read_text())

    assert {(row["workers"], row["route"]) for row in results["rows"]} == {
        (workers, route) for workers in (1, 2) for route in ("ok", "db")
    }
    assert all(row["rps"] > 0 for row in results["rows"])
    assert sorted(process["role"] for process in results["memory"]["1"]) == ["server"]
    assert sorted(process["role"] for process in results["memory"]["2"]) == ["server", "tracker", "worker", "worker"]
    assert all(process["uss_mib"] > 0 for processes in results["memory"].values() for process in processes)


def test_jobs_run_reports_jobs_per_second_and_enqueue_cost(tmp_path: Path) -> None:
    run_harness("-m", "bench.jobs", "--quick", "--output", str(tmp_path))
    (written,) = tmp_path.glob("*-jobs.json")
    results = json.loads(written.read_text())

    assert sorted(row["target"] for row in results["rows"]) == ["off", "on", "on100"]
    assert all(row["jobs"] == 50 and row["jobs_per_s"] > 0 for row in results["rows"])
    for target, cells in results["enqueue"].items():
        assert {cells["plain"]["status"], cells["enqueue"]["status"]} == {200}, target
        assert cells["plain"]["cpu_us"] > 0, target
        assert cells["enqueue"]["cpu_us"] > 0, target
    # on100 traces every job and request: the worker's and the service's transactions reached the sink.
    assert results["sink_items"]["transaction"] > 0
    assert "| on100 |" in (tmp_path / written.name.replace(".json", ".md")).read_text()


def test_logs_run_reports_the_cost_of_a_line_with_sentry_logs_off_and_on() -> None:
    out = run_harness("-m", "bench.logs", "--lines", "300", "--rounds", "1")
    table = [line.split("|") for line in out.splitlines() if line.startswith(("| structlog ", "| stdlib "))]
    rows = {cells[1].strip(): cells[2:5] for cells in table}
    assert sorted(rows) == ["stdlib", "structlog"]
    for kind, (off, on, _) in rows.items():
        assert float(off) > 0, kind
        assert float(on.split("(")[0]) > 0, kind
    # Sentry Logs on: the lines reached the sink as log items.
    assert "'log': " in out


@pytest.mark.parametrize(
    ("lifecycle", "routes", "item"), [("static", ("ok", "404"), "transaction"), ("stream", ("ok",), "span")]
)
def test_the_sdks_floor_is_a_target_and_each_traced_mode_is_held_against_it(
    tmp_path: Path, lifecycle: str, routes: tuple[str, ...], item: str
) -> None:
    args = ["--quick", "--targets", "floor10,on10", "--routes", ",".join(routes), "--lifecycle", lifecycle]
    run_harness("-m", "bench", *args, "--output", str(tmp_path))
    results = _results(tmp_path)
    assert results["config"]["lifecycle"] == lifecycle
    for route in routes:
        cells = results["summary"]["routes"][route]
        assert set(cells) == {"bare", "floor10", "on10"}, route
        assert cells["floor10"]["ratio"] > 0, route
        assert cells["on10"]["over_floor"] > 0, route
        assert cells["floor10"].get("over_floor") is None, route
    # The floor traces 10 % of its requests too: its transactions (streamed: spans) reach the sink beside the service's.
    assert results["sink"]["items"][item] > 0
    assert f"trace lifecycle: {lifecycle}" in (tmp_path / "latest.md").read_text()
    assert "| ok | on10 | floor10 |" in (tmp_path / "latest.md").read_text()


def test_the_service_and_the_floor_run_on_another_sentry_sdk(tmp_path: Path) -> None:
    """--sentry-sdk puts a given SDK (sentry-sdk 3's pre-release here) in the service's venv in place of the pin's."""
    args = ["--quick", "--targets", "floor10,on10", "--routes", "ok", "--lifecycle", "stream"]
    run_harness("-m", "bench", *args, "--sentry-sdk", SENTRY_SDK_3, "--output", str(tmp_path))
    results = _results(tmp_path)
    assert results["versions"]["sentry-sdk"] == SENTRY_SDK_3
    assert results["summary"]["routes"]["ok"]["on10"]["over_floor"] > 0
    assert results["sink"]["items"]["span"] > 0
    assert f"sentry-sdk {SENTRY_SDK_3}" in (tmp_path / "latest.md").read_text()

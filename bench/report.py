"""Turn raw runs into medians and ratios, and write them: JSON, Markdown, the docs page and the chart."""

from __future__ import annotations

import json
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import prepare

BENCH_DIR = Path(__file__).resolve().parent
DOCS_DIR = BENCH_DIR.parent / "docs"
DOCS_PAGE = DOCS_DIR / "benchmarks.md"
DOCS_CHART = DOCS_DIR / "benchmarks.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

# Throughput ratio to bare FastAPI that each (route, Sentry mode) must reach; the storm goal is on p99.
# "on" traces at production's rate (1 %), "on10" at 10 %.
GOALS: dict[tuple[str, str], float] = {
    ("ok", "on10"): 0.6,
    ("ok", "on"): 0.7,
    ("ok", "off"): 0.9,
    ("item", "on10"): 0.6,
    ("item", "on"): 0.7,
    ("item", "off"): 0.9,
    ("db", "on"): 0.8,
    ("db", "off"): 0.85,
    ("404", "on10"): 0.6,
    ("404", "on"): 0.6,
    ("404", "off"): 0.6,
    ("422", "on"): 0.5,
    ("500", "on"): 0.25,
}
STORM_GOAL = 2.0
# Tails, with Sentry on at 10 %: saturated p99/p50 against bare's, and paced p99 against bare's.
TAIL_TARGET = "on10"
TAIL_ROUTES = ("ok", "db", "404")
SATURATION_SPREAD_GOAL = 1.5
PACED_P99_GOAL = 1.5


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v == v]
    return round(statistics.median(values), 3) if values else None


# The Sentry SDK's floor (bench/floor_app.py) each traced mode of the service is held against: the same rate.
FLOOR_OF = {"on": "floor", "on10": "floor10"}


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    runs = results["runs"]
    bare = {(r["round"], r["route"]): r["rps"] for r in runs if r["target"] == "bare"}
    floors = {(r["round"], r["route"], r["mode"]): r["rps"] for r in runs if r.get("mode") in FLOOR_OF.values()}
    routes: dict[str, dict[str, Any]] = {}
    for row in runs:
        cell = routes.setdefault(row["route"], {}).setdefault(
            row["target"],
            {
                "mode": row.get("mode"),
                "design": row.get("design"),
                "rps": [],
                "p50": [],
                "p99": [],
                "ratios": [],
                "spreads": [],
                "events": [],
                "over_floor": [],
                "last_event": None,
            },
        )
        floor = floors.get((row["round"], row["route"], FLOOR_OF.get(row.get("mode") or "")))
        if floor and row["target"] not in FLOOR_OF.values():
            cell["over_floor"].append(row["rps"] / floor)
        cell["rps"].append(row["rps"])
        cell["p50"].append(row["p50_ms"])
        cell["p99"].append(row["p99_ms"])
        if row["p50_ms"]:
            cell["spreads"].append(row["p99_ms"] / row["p50_ms"])
        if row["target"] != "bare" and bare.get((row["round"], row["route"])):
            cell["ratios"].append(row["rps"] / bare[(row["round"], row["route"])])
        if "sink_events" in row:
            cell["events"].append(row["sink_events"] / max(row["requests"], 1))
        if row.get("last_event"):
            cell["last_event"] = row["last_event"]
    summary_routes: dict[str, dict[str, Any]] = {}
    for route, cells in routes.items():
        for target, cell in cells.items():
            summary_routes.setdefault(route, {})[target] = {
                "mode": cell["mode"],
                "design": cell["design"],
                "rps": _median(cell["rps"]),
                "p50_ms": _median(cell["p50"]),
                "p99_ms": _median(cell["p99"]),
                "ratio": _median(cell["ratios"]),
                "over_floor": _median(cell["over_floor"]),
                "ratios": [round(r, 3) for r in cell["ratios"]],
                "p99_over_p50": _median(cell["spreads"]),
                "events_per_request": _median(cell["events"]),
                "last_event": cell["last_event"],
                "goal": GOALS.get((route, cell["mode"] or "")),  # the chart draws it from here
            }

    storm: dict[str, dict[str, Any]] = {}
    by_key = {(r["round"], r["target"], r["phase"], r["stream"]): r for r in results.get("storm_runs", [])}
    for (round_no, target, phase, stream), row in by_key.items():
        if phase != "storm" or stream != "healthy":
            continue
        calm = by_key.get((round_no, target, "calm", "healthy"))
        failing = by_key.get((round_no, target, "storm", "failing"))
        cell = storm.setdefault(
            target, {"calm_p99": [], "storm_p99": [], "calm_p50": [], "storm_p50": [], "ratio": [], "failing_p99": []}
        )
        cell["storm_p99"].append(row["p99_ms"])
        cell["storm_p50"].append(row["p50_ms"])
        if calm:
            cell["calm_p99"].append(calm["p99_ms"])
            cell["calm_p50"].append(calm["p50_ms"])
            cell["ratio"].append(row["p99_ms"] / calm["p99_ms"] if calm["p99_ms"] else float("nan"))
        if failing:
            cell["failing_p99"].append(failing["p99_ms"])
    storm_summary = {target: {key: _median(values) for key, values in cell.items()} for target, cell in storm.items()}

    checks = []
    for route, cells in summary_routes.items():
        for target, cell in cells.items():
            goal = cell["goal"]
            if goal is None or cell["ratio"] is None:
                continue
            ok = cell["ratio"] >= goal
            note = ""
            if route == "500":
                frames = (cell["last_event"] or {}).get("frames", 0)
                ok = ok and frames > 0
                note = f"last event: {frames} frames"
            checks.append(
                {
                    "what": f"{route} throughput",
                    "target": target,
                    "value": cell["ratio"],
                    "goal": f">= {goal}x",
                    "ok": ok,
                    "note": note,
                }
            )
    for target, cell in storm_summary.items():
        if target == "bare" or cell.get("ratio") is None:
            continue
        checks.append(
            {
                "what": "healthy p99, storm / calm",
                "target": target,
                "value": cell["ratio"],
                "goal": f"<= {STORM_GOAL}x",
                "ok": cell["ratio"] <= STORM_GOAL,
                "note": "",
            }
        )
    paced = {(row["target"], row["route"]): row for row in results.get("paced_runs", [])}
    for route in TAIL_ROUTES:
        cells = summary_routes.get(route, {})
        bare, service = cells.get("bare"), cells.get(TAIL_TARGET)
        if bare and service and bare["p99_over_p50"] and service["p99_over_p50"]:
            spread = service["p99_over_p50"] / bare["p99_over_p50"]
            checks.append(
                {
                    "what": f"{route} p99/p50 at saturation, over bare's",
                    "target": TAIL_TARGET,
                    "value": spread,
                    "goal": f"<= {SATURATION_SPREAD_GOAL}x",
                    "ok": spread <= SATURATION_SPREAD_GOAL,
                    "note": f"{service['p99_over_p50']:.2f} vs bare {bare['p99_over_p50']:.2f}",
                }
            )
        bare_paced, service_paced = paced.get(("bare", route)), paced.get((TAIL_TARGET, route))
        if bare_paced and service_paced and bare_paced["p99_ms"]:
            ratio = service_paced["p99_ms"] / bare_paced["p99_ms"]
            checks.append(
                {
                    "what": f"{route} p99 paced at half of bare's capacity, over bare's",
                    "target": TAIL_TARGET,
                    "value": ratio,
                    "goal": f"<= {PACED_P99_GOAL}x",
                    "ok": ratio <= PACED_P99_GOAL,
                    "note": f"{service_paced['p99_ms']:.1f} ms vs bare {bare_paced['p99_ms']:.1f} ms "
                    f"at {bare_paced['rate']:.0f} req/s",
                }
            )
    return {"routes": summary_routes, "storm": storm_summary, "paced": list(paced.values()), "checks": checks}


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown_table(results: dict[str, Any]) -> str:
    summary = results["summary"]
    targets = results["config"]["targets"]
    lines = ["| route | " + " | ".join(targets) + " |", "|---|" + "---:|" * len(targets)]
    for route, cells in summary["routes"].items():
        row = []
        for target in targets:
            cell = cells.get(target)
            if cell is None:
                row.append("")
            elif target == "bare":
                row.append(f"{_fmt(cell['rps'], '.0f')} req/s")
            else:
                row.append(f"**{_fmt(cell['ratio'])}x** ({_fmt(cell['rps'], '.0f')} req/s)")
        lines.append(f"| {route} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    summary, config, machine = results["summary"], results["config"], results["machine"]
    out = [
        f"Run {results['started']} ({'quick smoke run' if config['quick'] else 'full run'}, "
        f"{config['rounds']} round(s) of {config['duration_s']:g} s per route, {config['connections']} connections, "
        f"{results['elapsed_s']:g} s in all).",
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Linux {machine['kernel']}, "
        f"Python {machine['python']}, {machine['load_generator']}; load average "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_start'])} at the start, "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_end'])} at the end.",
        "",
        "Libraries: " + ", ".join(f"{name} {version}" for name, version in results["versions"].items()) + ".",
        "",
        f"Server: {config['server']}. Command: `{config['command']}`.",
        "",
        "Service tuning (from the bake's `.env.production`): "
        + ", ".join(f"{key}={value}" for key, value in results.get("tuning", {}).items())
        + f"; sentry-sdk's trace lifecycle: {config.get('lifecycle', 'static')}.",
        "",
    ]
    if any(config["designs"].values()):
        out += [
            "Designs: "
            + "; ".join(f"{n} = {', '.join(p) or 'the template as it is'}" for n, p in config["designs"].items())
            + ".",
            "",
        ]
    out += ["Throughput ratio to bare FastAPI (median of per-round ratios):", "", markdown_table(results), ""]
    over_floor = [
        f"| {route} | {target} | {FLOOR_OF[cell['mode']]} | **{_fmt(cell['over_floor'])}x** |"
        for route, cells in summary["routes"].items()
        for target, cell in cells.items()
        if cell.get("over_floor") is not None
    ]
    if over_floor:
        out += [
            "Throughput over the SDK's floor at the same trace rate (median of per-round ratios; 1.00x: the service's",
            "watched request costs no more than an isolation scope and a transaction on bare FastAPI):",
            "",
            "| route | target | floor | ratio |",
            "|---|---|---|---:|",
            *over_floor,
            "",
        ]
    out += [
        "| route | target | req/s | p50 ms | p99 ms | p99/p50 | ratio | per round | Sentry events per request |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for route, cells in summary["routes"].items():
        for target, cell in cells.items():
            ratios = ", ".join(f"{r:.2f}" for r in cell["ratios"])
            events = _fmt(cell["events_per_request"], ".3f") if cell["events_per_request"] is not None else ""
            out.append(
                f"| {route} | {target} | {_fmt(cell['rps'], '.0f')} | {_fmt(cell['p50_ms'])} | "
                f"{_fmt(cell['p99_ms'])} | {_fmt(cell['p99_over_p50'])} | "
                f"{_fmt(cell['ratio']) if target != 'bare' else ''} | {ratios} | "
                f"{events} |"
            )
    if summary["storm"]:
        storm = config["storm"]
        out += [
            "",
            f"Error storm: healthy `GET /ok` paced at {storm['healthy_rps']:g} req/s, alone (calm) "
            f"and next to `GET /sentry-debug` paced at {storm['failing_rps']:g} req/s (storm), "
            f"{storm['duration_s']:g} s each, latency from the scheduled send time:",
            "",
            "| target | calm p50 ms | calm p99 ms | storm p50 ms | storm p99 ms | storm/calm p99 | failing p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for target, cell in summary["storm"].items():
            out.append(
                f"| {target} | {_fmt(cell['calm_p50'])} | {_fmt(cell['calm_p99'])} | "
                f"{_fmt(cell['storm_p50'])} | {_fmt(cell['storm_p99'])} | {_fmt(cell['ratio'])} | "
                f"{_fmt(cell['failing_p99'])} |"
            )
    if summary.get("paced"):
        paced = config.get("paced", {})
        out += [
            "",
            f"Paced (open loop) at {paced.get('fraction_of_bare', 0.5):g} of bare's measured capacity per route, "
            f"{paced.get('duration_s', 0):g} s each, latency from the scheduled send time:",
            "",
            "| route | target | req/s sent | p50 ms | p99 ms |",
            "|---|---|---:|---:|---:|",
        ]
        for row in summary["paced"]:
            out.append(
                f"| {row['route']} | {row['target']} | {row['rate']:.0f} | {_fmt(row['p50_ms'])} | "
                f"{_fmt(row['p99_ms'])} |"
            )
    if summary["checks"]:
        out += ["", "| goal | target | measured | wanted | met | |", "|---|---|---:|---|---|---|"]
        for check in summary["checks"]:
            out.append(
                f"| {check['what']} | {check['target']} | {_fmt(check['value'])}x | {check['goal']} | "
                f"{'yes' if check['ok'] else '**no**'} | {check['note']} |"
            )
    return "\n".join(out) + "\n"


def chart(results_file: Path, png: Path) -> bool:
    """Draw the ratios with matplotlib, from the harness venv (the service venv stays as the service needs it)."""
    try:
        python = prepare.harness_python()
        subprocess.run(
            [str(python), str(BENCH_DIR / "chart.py"), str(results_file), str(png)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.SubprocessError, OSError, SystemExit) as error:
        print(f"chart not drawn: {error}")
        return False
    return True


def update_docs(text: str) -> Path:
    page = DOCS_PAGE.read_text() if DOCS_PAGE.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in page or END not in page:
        page += f"\n{START}\n{END}\n"
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    block = f"{START}\n\n![Throughput ratio to bare FastAPI](benchmarks.png)\n\n{text}\n{END}"
    DOCS_PAGE.write_text(head + block + tail)
    return DOCS_PAGE


def write(results: dict[str, Any], output: Path, *, docs: bool, chart_too: bool = True) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    name = "quick" if results["config"]["quick"] else "full"
    base = output / f"{results['started']}-{name}"
    written = []
    json_file = base.with_suffix(".json")
    json_file.write_text(json.dumps(results, indent=2))
    md_file = base.with_suffix(".md")
    text = markdown(results)
    md_file.write_text(text)
    written += [json_file, md_file]
    for latest, source in ((output / "latest.json", json_file), (output / "latest.md", md_file)):
        latest.write_text(source.read_text())
        written.append(latest)
    if chart_too:
        png = base.with_suffix(".png")
        if chart(json_file, png):
            written.append(png)
            if docs:
                DOCS_CHART.write_bytes(png.read_bytes())
                written.append(DOCS_CHART)
    if docs:
        written.append(update_docs(text))
    return written


def write_run(results: dict[str, Any], output: Path, kind: str, markdown_text: str | None = None) -> Path:
    """One harness run's results as ``<stamp>-<kind>.json`` in ``output`` (and its Markdown beside it); the path."""
    output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output / f"{stamp}-{kind}.json"
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    if markdown_text is not None:
        path.with_suffix(".md").write_text(markdown_text + "\n", encoding="utf-8")
    return path

"""Draw a results file's throughput ratios as grouped bars: ``python chart.py RESULTS.json OUT.png``.

Runs in the harness venv (matplotlib), never in the service's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LABELS = {"off": "Sentry off", "on": "Sentry on, production's trace rate", "on10": "Sentry on, 10 % traced"}


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    routes = results["summary"]["routes"]
    names = list(routes)
    targets = [t for t in results["config"]["targets"] if t != "bare"]
    width = 0.8 / max(len(targets), 1)
    figure, axes = plt.subplots(figsize=(max(7, 1.6 * len(names) + 1), 4.2), dpi=120)
    for index, target in enumerate(targets):
        xs = [i + (index - (len(targets) - 1) / 2) * width for i in range(len(names))]
        ratios = [(routes[n].get(target) or {}).get("ratio") or 0 for n in names]
        bars = axes.bar(xs, ratios, width * 0.95, label=LABELS.get(target, target))
        for bar, value in zip(bars, ratios, strict=True):
            axes.annotate(
                f"{value:.2f}",
                (bar.get_x() + bar.get_width() / 2, value),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
        for i, name in enumerate(names):
            goal = (routes[name].get(target) or {}).get("goal")  # set by bench.report.summarize
            if goal is not None:
                axes.hlines(
                    goal, xs[i] - width / 2, xs[i] + width / 2, colors="black", linestyles="dashed", linewidth=1.2
                )
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set_xticks(range(len(names)), names)
    axes.set_ylabel("throughput / bare FastAPI")
    top = max([1.0] + [(cells.get(t) or {}).get("ratio") or 0 for cells in routes.values() for t in targets])
    axes.set_ylim(0, max(1.25, top * 1.12))
    machine = results["machine"]
    axes.set_title(
        f"Throughput ratio to bare FastAPI (dashed: goal), {machine['cpu_model']}, {results['started']}", fontsize=9
    )
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(sys.argv[2])


if __name__ == "__main__":
    main()

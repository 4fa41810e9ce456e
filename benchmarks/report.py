"""The report: every scenario's command line, the result it hands to run_all, and the machine.

A scenario's result is a JSON object: ``title``, ``setup`` (one paragraph:
sizes, rounds, what is measured), ``tables`` (each a caption, columns and rows
of strings), ``plots`` (horizontal bar charts: labels, one or more series of
values, a reference line at the floor's 1.0) and ``goals`` (each the goal as the
issue stated it, the measured figure, and met or not).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from statistics import median
from typing import Any

Result = dict[str, Any]


def parser(doc: str | None) -> argparse.ArgumentParser:
    """``--quick`` (a smoke run of seconds) and ``--json PATH`` (where run_all reads the result)."""
    lines = (doc or "").strip().splitlines()
    cli = argparse.ArgumentParser(description=lines[0] if lines else None)
    cli.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    cli.add_argument("--json", metavar="PATH", help="write the result there, for run_all.py")
    return cli


def new_result(title: str, setup: str) -> Result:
    return {"title": title, "setup": setup, "tables": [], "plots": [], "goals": []}


def add_table(result: Result, caption: str, columns: Sequence[str], rows: list[list[str]]) -> None:
    result["tables"].append({"caption": caption, "columns": list(columns), "rows": rows})


def add_plot(
    result: Result,
    name: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, list[float]],
    xlabel: str,
    *,
    reference: float | None = 1.0,
    log: bool = False,
) -> None:
    """A bar chart ``docs/img/bench-<name>.png``: one bar per label and series."""
    result["plots"].append(
        {
            "name": name,
            "title": title,
            "labels": list(labels),
            "series": series,
            "xlabel": xlabel,
            "reference": reference,
            "log": log,
        }
    )


def add_goal(result: Result, goal: str, measured: str, met: bool) -> None:
    result["goals"].append({"goal": goal, "measured": measured, "met": met})


def finish(result: Result, path: str | None) -> None:
    """Print the result as markdown tables, and write it as JSON when a path is given."""
    print(f"\n# {result['title']}\n\n{result['setup']}")
    for table in result["tables"]:
        print(markdown_table(table))
    for goal in result["goals"]:
        print(f"- {'MET' if goal['met'] else 'MISSED'}: {goal['goal']} -- {goal['measured']}")
    if path:
        Path(path).write_text(json.dumps(result, indent=1))


def markdown_table(table: dict[str, Any]) -> str:
    columns: list[str] = table["columns"]
    align = ["---"] + ["---:"] * (len(columns) - 1)
    lines = [f"\n{table['caption']}\n", "| " + " | ".join(columns) + " |", f"|{'|'.join(align)}|"]
    lines += ["| " + " | ".join(row) + " |" for row in table["rows"]]
    return "\n".join(lines)


def spread(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    """``median (min-max)`` of ``values`` times ``scale``, with thousands separators."""
    fmt = f"{{:,.{digits}f}}"
    low, mid, high = (fmt.format(v * scale) for v in (min(values), median(values), max(values)))
    return f"{mid} ({low}-{high})"


def ratios(values: list[float], floor: list[float]) -> list[float]:
    """Each round's value over the floor's in the same round (rounds interleave the targets).

    NaN where the floor measured 0 (CPU time below the clock's tick in a quick run).
    """
    return [v / f if f else float("nan") for v, f in zip(values, floor, strict=True)]


def ratio_text(values: list[float]) -> str:
    """``1.23x (1.10-1.40)``: the median of per-round ratios and their range."""
    return f"{median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def machine() -> dict[str, str]:
    """The machine and the versions the results were measured with."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages: tuple[str, ...] = ("uvicorn", "httptools", "uvloop", "hypercorn", "h11")
    packages += ("starlette", "fastapi", "litestar", "quart", "sse-starlette", "anyio", "ssekit")
    packages += ("django",)
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "src", "adapters"], capture_output=True
        )
        revision = head.stdout.decode().strip() or "unknown"
        if dirty.stdout.strip():
            revision += " with uncommitted changes in src/ or adapters/"
    except OSError:
        revision = "unknown"
    return {
        "revision": revision,
        "cpu": f"{os.cpu_count()} x {model} ({platform.machine()})",
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{name} {metadata.version(name)}" for name in packages),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def plot(spec: dict[str, Any], path: Path) -> None:
    """A horizontal grouped bar chart of ``spec`` (see ``_suite.add_plot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels: list[str] = spec["labels"]
    series: dict[str, list[float]] = spec["series"]
    height = 0.8 / len(series)
    figure, axes = plt.subplots(figsize=(8, 0.9 + 0.34 * len(labels) * max(1, len(series) / 1.5)))
    for i, (name, values) in enumerate(series.items()):
        positions = [y + (i - (len(series) - 1) / 2) * height for y in range(len(labels))]
        shown = [v if v == v and v > 0 else 0.0 for v in values]  # NaN, 0: no bar
        axes.barh(positions, shown, height=height, label=name)
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    if spec.get("log"):
        axes.set_xscale("log")
    if spec.get("reference") is not None:
        axes.axvline(spec["reference"], color="black", linewidth=0.8, linestyle="--")
    axes.set_xlabel(spec["xlabel"])
    axes.set_title(spec["title"], fontsize=10)
    if len(series) > 1:
        axes.legend(fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

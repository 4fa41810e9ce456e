"""What every scenario of the suite shares: its command line, and the result it hands to run_all.

A scenario's result is a JSON object: ``title``, ``setup`` (one paragraph:
sizes, rounds, what is measured), ``tables`` (each a caption, columns and rows
of strings), ``plots`` (horizontal bar charts: labels, one or more series of
values, a reference line at the floor's 1.0) and ``goals`` (each the goal as the
issue stated it, the measured figure, and met or not).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
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

"""The whole benchmark suite in one command: every scenario, ssekit beside its peers and the floor.

Runs each scenario script in its own process (``--json`` into the output
directory), then writes ``benchmarks.md`` (tables, goals met or missed) and
``img/bench-*.png`` (plots). A scenario that crashes makes the command exit
non-zero, after the others have run.

    uv run python benchmarks/run_all.py                          # full: docs/benchmarks.md
    uv run python benchmarks/run_all.py --quick --out /tmp/bench # smoke run (CI), seconds each
    uv run python benchmarks/run_all.py --only llm_load ttfb     # some scenarios
    uv run python benchmarks/run_all.py --from-json DIR          # re-render a run's results

Hand-written notes after the ``NOTES_MARKER`` line of an existing page are kept.

Scenarios (each is runnable on its own, with ``--quick`` too):

1. ``encoder_ratios``: encoder ns/event (single-line token, multi-line text, 4 KiB JSON);
2. ``stream_rate``: one stream of 100,000 token events on uvicorn and hypercorn;
3. ``llm_load``: 1,000 concurrent streams, a token every 20 ms for 10 s (twice: a
   producer that awaits before every token, and one that does not when it is late);
4. ``idle_streams``: 1,000, 2,000 and 5,000 idle streams, server RSS and tasks per stream;
5. ``close_latency``: client close -> producer ``finally``, 200 trials per target;
6. ``slow_client``: what coalescing changes in bytes per send and server CPU;
7. ``ttfb``: time to first byte and first event.

Full run on a 2-core machine: about 15 minutes. The full run's sizes are the
scripts' defaults; ``--quick`` passes ``--quick`` to every scenario.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _suite import markdown_table
from _targets import DESCRIPTIONS, machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: name: (script, extra arguments); in the order of the page.
SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "encoder_ratios": ("encoder_ratios", []),
    "stream_rate": ("stream_rate", []),
    "llm_load": ("llm_load", []),
    # The same load from a producer that, when late, yields without awaiting (as when several
    # tokens come out of one read from the model): only the floors, the core and two peers.
    "llm_load_lazy": (
        "llm_load",
        ["--lazy", "--targets", "floor", "floor-asgi", "ssekit", "sse-starlette", "quart"],
    ),
    "idle_streams": ("idle_streams", []),
    "close_latency": ("close_latency", []),
    "slow_client": ("slow_client", []),
    "ttfb": ("ttfb", []),
}


def run_scenario(name: str, quick: bool, out: Path) -> tuple[dict[str, Any] | None, float]:
    """The scenario's result (None if it failed) and its wall time in seconds."""
    path = out / f"{name}.json"
    path.unlink(missing_ok=True)
    script, extra = SCENARIOS[name]
    command = [sys.executable, str(HERE / f"{script}.py"), "--json", str(path), *extra]
    if quick:
        command.append("--quick")
    print(f"\n=== {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, check=False)
    elapsed = time.monotonic() - started
    print(f"=== {name}: exit {completed.returncode} in {elapsed:.0f} s", flush=True)
    if completed.returncode != 0 or not path.exists():
        return None, elapsed
    result: dict[str, Any] = json.loads(path.read_text())
    return result, elapsed


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


NOTES_MARKER = (
    "<!-- Notes below are written by hand; run_all.py keeps them when it rewrites the page. -->"
)


def render(
    results: dict[str, dict[str, Any] | None],
    times: dict[str, float],
    quick: bool,
    images: Path,
    image_prefix: str,
    info: dict[str, str],
) -> str:
    """The markdown page: machine, goals, then one section per scenario."""
    when = info["when"]
    total = sum(times.values())
    lines = [
        "# Benchmarks",
        "",
        "ssekit beside its peers and the floor, every target measured in the same run. Generated "
        "by `uv run python benchmarks/run_all.py`"
        + (" **--quick (smoke sizes: these numbers mean nothing)**" if quick else "")
        + f" on {when}, in {total / 60:.0f} min, from ssekit {info['revision']}.",
        "",
        f"**Machine:** {info['cpu']}, Linux {info['kernel']}, {info['python']}; "
        f"load average {info['load']} at the end of the run. {info['packages']}.",
        "",
        "**Noise.** The machine is a shared 2-core VM on which other people's test suites ran "
        "during the whole run, and each server shares the two cores with its client. So targets "
        "are interleaved (A B C ... A B C ...), results are medians with the min-max beside them, "
        "and every result is also stated as a ratio to the floor measured in the same run (the "
        "same round where there are rounds); server CPU time (user + system of the server "
        "process, from `/proc`) is quoted where wall time is noisier. Read the ratios, not the "
        "absolute figures. No test asserts a timing.",
        "",
        "## Goals",
        "",
        "Each goal as the issue that built the part set it, judged on the figure measured here.",
        "",
        "| goal | measured | |",
        "|---|---|---|",
    ]
    for result in results.values():
        for goal in (result or {}).get("goals", []):
            verdict = "met" if goal["met"] else "**missed**"
            lines.append(f"| {goal['goal']} | {goal['measured']} | {verdict} |")
    lines += ["", "## Targets", "", "| target | what it is |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in DESCRIPTIONS.items()]
    lines += [
        "",
        "All serve the same stream (`event: message`, data `tok<i>`) from one server process "
        "(`benchmarks/_targets.py`: uvicorn with uvloop and httptools, or hypercorn with uvloop "
        "and h11), each under its own path. Raw-socket clients read the streams.",
    ]
    for name in SCENARIOS:
        if name not in results:
            continue
        result = results[name]
        if result is None:
            lines += ["", f"## `{name}`", "", "**This scenario failed in this run.**"]
            continue
        lines += ["", f"## {result['title']}", "", result["setup"]]
        for table in result["tables"]:
            lines.append(markdown_table(table))
        for spec in result["plots"]:
            file = f"bench-{spec['name']}.png"
            plot(spec, images / file)
            lines += ["", f"![{spec['title']}]({image_prefix}{file})"]
        script, extra = SCENARIOS[name]
        command = " ".join([f"benchmarks/{script}.py", *extra])
        lines += ["", f"`uv run python {command}` ({times[name]:.0f} s in this run)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    cli = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cli.add_argument("--quick", action="store_true", help="smoke sizes; docs are not written")
    cli.add_argument(
        "--out",
        type=Path,
        help="write benchmarks.md and img/ there (default: docs/; with --quick, a temp directory)",
    )
    cli.add_argument("--only", nargs="*", choices=list(SCENARIOS), default=list(SCENARIOS))
    cli.add_argument(
        "--from-json", type=Path, metavar="DIR", help="render a previous run's raw results"
    )
    args = cli.parse_args()
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="ssekit-bench-")) if args.quick else ROOT / "docs"
    args.out.mkdir(parents=True, exist_ok=True)
    images = args.out / "img"
    images.mkdir(exist_ok=True)
    results: dict[str, dict[str, Any] | None] = {}
    if args.from_json:
        raw = args.from_json
        times = json.loads((raw / "times.json").read_text())
        info = json.loads((raw / "machine.json").read_text())
        for name in args.only:
            path = raw / f"{name}.json"
            results[name] = json.loads(path.read_text()) if path.exists() else None
    else:
        raw = args.out / "bench-results" if args.out != ROOT / "docs" else Path(tempfile.mkdtemp())
        raw.mkdir(exist_ok=True)
        times = {}
        for name in args.only:
            results[name], times[name] = run_scenario(name, args.quick, raw)
        info = machine()
        info["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        (raw / "times.json").write_text(json.dumps(times))
        (raw / "machine.json").write_text(json.dumps(info))
    page = render(results, times, args.quick, images, "img/", info)
    target = args.out / "benchmarks.md"
    if target.exists() and NOTES_MARKER in (old := target.read_text()):
        page += "\n" + NOTES_MARKER + old.split(NOTES_MARKER, 1)[1]
    target.write_text(page)
    print(f"\nwrote {args.out / 'benchmarks.md'} and {images}/bench-*.png; raw results in {raw}")
    failed = [name for name, result in results.items() if result is None]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""The whole benchmark suite in one command: every scenario, ssekit beside its peers and the floor.

Runs each scenario script in its own process, then writes ``benchmarks.md`` (tables,
goals met or missed) and ``img/bench-*.png`` (plots). A scenario that crashes makes
the command exit non-zero, after the others have run.

    uv run python benchmarks/run_all.py                          # full: docs/benchmarks.md
    uv run python benchmarks/run_all.py --quick --out /tmp/bench # smoke run (CI), about a minute
    uv run python benchmarks/run_all.py --only llm_load ttfb     # some scenarios
    uv run python benchmarks/run_all.py --from-json DIR          # re-render a run's results

Hand-written notes after the ``NOTES_MARKER`` line of an existing page are kept.

The harness, beside the scenarios: ``targets.py`` (every target, from the builders shared
with the tests, ``tests/support/endpoints.py`` and ``peer_endpoints.py``), ``server.py``
(one process serving them all, on uvicorn or hypercorn), ``clients.py`` (raw sockets) and
``report.py`` (a scenario's command line, tables, ratios, goals, plots, the machine).

**Registering a scenario is one line in** ``SCENARIOS`` below:

- a scenario built on ``report.py`` (it takes ``--quick`` and ``--json PATH`` and ends with
  ``report.finish``): ``"name": Scenario("script"),`` (``args=(...)`` for extra arguments);
- a self-contained script (``benchmarks/<script>.py``: it takes ``--quick``, prints markdown
  tables with ``###`` headings at most, and exits non-zero when it fails):
  ``"name": Scenario("script", suite=False),``; its printed output goes on the page as it
  is, under the first line of its docstring.

Every scenario is runnable on its own too (``uv run python benchmarks/<script>.py --quick``).
Full run on a 2-core machine: about 30 minutes; ``--quick`` passes ``--quick`` to every
scenario (smoke sizes, about a minute: what ``.ci/run`` runs; the numbers mean nothing).
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import machine, markdown_table, plot
from targets import DESCRIPTIONS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Scenario:
    """A script of this directory, run with `args` (and `--quick` in a smoke run)."""

    script: str
    args: tuple[str, ...] = ()
    #: Built on `report.py` (writes `--json`); False: a self-contained script's printed markdown.
    suite: bool = True


#: Every scenario, in the order of the page.
SCENARIOS: dict[str, Scenario] = {
    "encoder_ratios": Scenario("encoder_ratios"),
    "stream_rate": Scenario("stream_rate"),
    "llm_load": Scenario("llm_load"),
    # The same load from a producer that, when late, yields without awaiting (as when several
    # tokens come out of one read from the model): only the floors, the core and two peers.
    "llm_load_lazy": Scenario(
        "llm_load",
        ("--lazy", "--targets", "floor", "floor-asgi", "ssekit", "sse-starlette", "quart"),
    ),
    "idle_streams": Scenario("idle_streams"),
    "close_latency": Scenario("close_latency"),
    "slow_client": Scenario("slow_client"),
    "stalled_readers": Scenario("stalled_readers", suite=False),
    "ttfb": Scenario("ttfb"),
    "protocol_frames": Scenario("protocol_frames", suite=False),
    "protocol_rate": Scenario("protocol_rate"),
    "redact_cost": Scenario("redact_cost", suite=False),
    "big_body": Scenario("big_body", suite=False),
    "serve_shutdown": Scenario("serve_shutdown", suite=False),
    "resume": Scenario("resume", suite=False),
    "fastapi_paths": Scenario("fastapi_paths", suite=False),
    # No server: each adapter's CPU per event and memory per idle stream against the core's.
    "inprocess": Scenario("inprocess", ("--memory", "--streams", "1000")),
}


def run_scenario(name: str, quick: bool, out: Path) -> tuple[dict[str, Any] | None, float]:
    """The scenario's result (None if it failed) and its wall time in seconds."""
    scenario = SCENARIOS[name]
    path = out / f"{name}.json"
    path.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / f"{scenario.script}.py"), *scenario.args]
    command += ["--json", str(path)] if scenario.suite else []
    command += ["--quick"] if quick else []
    print(f"\n=== {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=ROOT,
        check=False,
        stdout=None if scenario.suite else subprocess.PIPE,
        text=True,
    )
    elapsed = time.monotonic() - started
    print(completed.stdout or "", end="")
    print(f"=== {name}: exit {completed.returncode} in {elapsed:.0f} s", flush=True)
    if completed.returncode != 0:
        return None, elapsed
    if not scenario.suite:  # kept beside the others, for --from-json
        path.write_text(json.dumps(printed_result(scenario, completed.stdout)))
    if not path.exists():
        return None, elapsed
    result: dict[str, Any] = json.loads(path.read_text())
    return result, elapsed


def printed_result(scenario: Scenario, printed: str) -> dict[str, Any]:
    """A self-contained script's result: its docstring's first line, and what it printed."""
    source = (HERE / f"{scenario.script}.py").read_text()
    title = (ast.get_docstring(ast.parse(source)) or scenario.script).splitlines()[0]
    return {"title": title, "setup": "", "tables": [], "plots": [], "goals": [], "text": printed}


NOTES_MARKER = (
    "<!-- Notes below are written by hand; run_all.py keeps them when it rewrites the page. -->"
)


SERVED = (
    "All serve the same stream (`event: message`, data `tok<i>`) from one server process "
    "(`benchmarks/server.py`: uvicorn with uvloop and httptools, or hypercorn with uvloop "
    "and h11), each under its own path; the ssekit targets and the peers are built by the "
    "builders the tests use (`tests/support/endpoints.py`, `peer_endpoints.py`). Raw-socket "
    "clients read the streams."
)
NOISE = (
    "**Noise.** The machine is a shared 2-core VM on which other people's test suites ran "
    "during the whole run, and each server shares the two cores with its client. So targets "
    "are interleaved (A B C ... A B C ...), results are medians with the min-max beside them, "
    "and every result is also stated as a ratio to the floor measured in the same run (the "
    "same round where there are rounds); server CPU time (user + system of the server "
    "process, from `/proc`) is quoted where wall time is noisier. Read the ratios, not the "
    "absolute figures. No test asserts a timing."
)


def goals(results: Results) -> list[str]:
    """The page's table of goals, each met or missed, from every scenario."""
    lines = [
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
    return [*lines, ""]


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
        NOISE,
        "",
        *goals(results),
        "## Targets",
        "",
        "| target | what it is |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {text} |" for name, text in DESCRIPTIONS.items()]
    lines += ["", SERVED]
    for name in SCENARIOS:
        if name in results:
            lines += section(name, results[name], times[name], images, image_prefix)
    return "\n".join(lines) + "\n"


def section(
    name: str, result: dict[str, Any] | None, seconds: float, images: Path, image_prefix: str
) -> list[str]:
    """One scenario's part of the page: its tables, plots and command (or that it failed)."""
    if result is None:
        return ["", f"## `{name}`", "", "**This scenario failed in this run.**"]
    lines = ["", f"## {result['title']}", "", result["setup"]]
    for table in result["tables"]:
        lines.append(markdown_table(table))
    if "text" in result:
        lines.append(result["text"].rstrip())
    for spec in result["plots"]:
        file = f"bench-{spec['name']}.png"
        plot(spec, images / file)
        lines += ["", f"![{spec['title']}]({image_prefix}{file})"]
    scenario = SCENARIOS[name]
    command = " ".join([f"benchmarks/{scenario.script}.py", *scenario.args])
    return [*lines, "", f"`uv run python {command}` ({seconds:.0f} s in this run)."]


Results = dict[str, dict[str, Any] | None]


def run(
    raw: Path, names: list[str], quick: bool
) -> tuple[Results, dict[str, float], dict[str, str]]:
    """Run the scenarios; their results, times and the machine, also saved in `raw`."""
    results: Results = {}
    times: dict[str, float] = {}
    for name in names:
        results[name], times[name] = run_scenario(name, quick, raw)
    info = machine()
    info["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (raw / "times.json").write_text(json.dumps(times))
    (raw / "machine.json").write_text(json.dumps(info))
    return results, times, info


def read_run(raw: Path, names: list[str]) -> tuple[Results, dict[str, float], dict[str, str]]:
    """A previous run's results, times and machine, from its raw directory."""
    times = json.loads((raw / "times.json").read_text())
    info = json.loads((raw / "machine.json").read_text())
    results: Results = {}
    for name in names:
        path = raw / f"{name}.json"
        results[name] = json.loads(path.read_text()) if path.exists() else None
    return results, times, info


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
    if args.from_json:
        raw = args.from_json
        results, times, info = read_run(raw, args.only)
    else:
        raw = args.out / "bench-results" if args.out != ROOT / "docs" else Path(tempfile.mkdtemp())
        raw.mkdir(exist_ok=True)
        results, times, info = run(raw, args.only, args.quick)
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

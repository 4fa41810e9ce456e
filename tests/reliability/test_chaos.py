"""Chaos soak: hundreds of concurrent clients misbehaving against a real server process.

For each target (core ``chat_app``, the Starlette, Litestar and Quart adapters, the Django
adapter on uvicorn and on daphne) a server process runs :mod:`tests.support.server_app`;
:data:`CLIENTS` client loops run random scenarios back to back for :data:`SOAK_SECONDS` (env
``SSEKIT_SOAK_SECONDS`` runs longer). Every stream is checked twice: by what the client
received (parsed by httpx-sse) and by what the server's producer did (started, tokens
yielded, when its ``finally`` ran). Afterwards the server's tasks and file descriptors must
be back to their baseline, and its memory within :data:`MEMORY_SLACK_MIB` of it.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import statistics
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
import pytest

from tests.reliability.conftest import FIGURES
from tests.reliability.launcher import ServerProcess, server_process
from tests.reliability.secrets import BOT_FAILURE_FRAGMENTS, leaked
from tests.support.aclient import RawStream, chat_request
from tests.support.parsers import Parsed
from tests.support.server_app import expected_text

#: Seconds of soak per target (about 2 minutes in all for the four targets, with set-up).
SOAK_SECONDS = float(os.environ.get("SSEKIT_SOAK_SECONDS", "20"))
#: Concurrent client loops per target.
CLIENTS = int(os.environ.get("SSEKIT_SOAK_CLIENTS", "300"))
#: The warm-up before the baseline is taken (imports, caches, allocator arenas).
WARMUP_SECONDS = 3.0
#: The servers' send timeout: a reader stalled this long is dropped by the server.
SEND_TIMEOUT = 1.0
#: A producer's finally must have run within this long of its client leaving. Generous:
#: hundreds of streams share two cores with the clients and other jobs.
CLOSE_BOUND = 3.0
#: RSS after the soak may exceed the post-warm-up baseline by this much. CPython keeps
#: freed memory in its arenas and malloc keeps some of its heap: the bound is what
#: fragmentation may keep, far below what one leaked event per stream would cost.
MEMORY_SLACK_MIB = 24
#: How long the server gets to release everything once the clients are done.
SETTLE_SECONDS = 15.0

#: Scenarios a server fails by design, not ssekit: daphne never makes a write wait (Twisted
#: buffers whatever the app sends), so no send timeout can see a stalled reader, and the
#: 15 MiB each stalled stream yields sit in daphne's memory until the client leaves
#: (tests/adapters/test_django.py shows it; docs/adapters.md says so).
SCENARIOS_NOT_RUN = {"daphne": frozenset({"stall"})}

TARGETS = [
    ("core", "uvicorn"),
    ("starlette", "uvicorn"),
    ("litestar", "uvicorn"),
    ("quart", "hypercorn"),
    ("quart-lent", "hypercorn"),
    ("django", "uvicorn"),
    ("django", "daphne"),
]


@dataclass
class Outcome:
    """One stream as the client saw it, and what the server must have done for it."""

    rid: str
    scenario: str
    #: "complete", "error" (the bot raised) or "cut" (the client left or stalled).
    expect: str
    tokens: int
    status: int = 0
    events: list[Parsed] = field(default_factory=list)
    closed_at: float | None = None
    stalled: bool = False
    problems: list[str] = field(default_factory=list)


class Soak:
    """One target's client side: scenarios, and checks of what each client received."""

    def __init__(
        self,
        server: ServerProcess,
        target: str,
        http: httpx.AsyncClient,
        phase: str,
        not_run: frozenset[str] = frozenset(),
    ) -> None:
        self.phase = phase
        self.server = server
        self.port = server.port
        self.target = target
        self.http = http
        self.outcomes: list[Outcome] = []
        self.by_rid: dict[str, Outcome] = {}
        self._serial = 0
        self.scenarios: list[tuple[Callable[[str, random.Random], Awaitable[Outcome]], int]] = [
            (self.normal_httpx, 25),
            (self.normal_raw, 12),
            (self.slow_reader, 8),
            (self.disconnect_early, 12),
            (self.disconnect_mid, 15),
            (self.stall, 4),
            (self.bot_raises, 12),
            (self.bot_hangs, 12),
        ]
        self.scenarios = [(f, w) for f, w in self.scenarios if f.__name__ not in not_run]

    def begin(self, outcome: Outcome) -> Outcome:
        """Register a stream before it starts, so a client-side exception is still checked."""
        self.outcomes.append(outcome)
        self.by_rid[outcome.rid] = outcome
        return outcome

    def new_rid(self) -> str:
        self._serial += 1
        return f"{self.target[:2]}{self.phase}{self._serial:06d}"

    async def run(self, seconds: float, clients: int, seed: int) -> None:
        deadline = time.monotonic() + seconds
        functions = [function for function, _ in self.scenarios]
        weights = [weight for _, weight in self.scenarios]

        async def client_loop(number: int) -> None:
            rng = random.Random(seed * 100_003 + number)
            while time.monotonic() < deadline:
                scenario = rng.choices(functions, weights)[0]
                rid = self.new_rid()
                try:
                    await scenario(rid, rng)
                except Exception as exc:  # a client-side failure is a finding too
                    self.by_rid[rid].problems.append(f"client raised {exc!r}")

        await asyncio.gather(*(client_loop(number) for number in range(clients)))

    # -- the scenarios -------------------------------------------------------------------

    async def normal_httpx(self, rid: str, rng: random.Random) -> Outcome:
        """A well-behaved client (httpx + httpx-sse) reading a whole answer."""
        tokens, pause = rng.randint(1, 40), rng.choice([0, 0, 1, 5])
        outcome = self.begin(Outcome(rid, "normal_httpx", "complete", tokens))
        body = {"messages": [f"{rid} normal {tokens} {pause}"]}
        async with httpx_sse.aconnect_sse(self.http, "POST", "/chat", json=body) as source:
            outcome.status = source.response.status_code
            async for sse in source.aiter_sse():
                outcome.events.append(Parsed(sse.event, sse.data, sse.id or None))
        self.check_complete(outcome, tokens)
        return outcome

    async def normal_raw(self, rid: str, rng: random.Random) -> Outcome:
        tokens, pause = rng.randint(1, 60), rng.choice([0, 0, 2])
        return await self._read_whole(rid, "normal_raw", f"normal {tokens} {pause}", tokens)

    async def slow_reader(self, rid: str, rng: random.Random) -> Outcome:
        """Reads a few bytes at a time, pausing in between."""
        tokens = rng.randint(5, 40)
        piece, pause = rng.randint(1, 64), rng.choice([0.001, 0.003])
        return await self._read_whole(
            rid, "slow_reader", f"normal {tokens} 0", tokens, piece=piece, pause=pause
        )

    async def _read_whole(
        self,
        rid: str,
        name: str,
        command: str,
        tokens: int,
        *,
        piece: int = 65536,
        pause: float = 0,
    ) -> Outcome:
        outcome = self.begin(Outcome(rid, name, "complete", tokens))
        stream = await RawStream.connect(self.port)
        try:
            await stream.send(chat_request([f"{rid} {command}"]))
            if not await stream.read_to_end(30, piece=piece, pause=pause):
                outcome.problems.append("the response did not end within 30 s")
        finally:
            stream.close()
        self.take_raw(outcome, stream)
        if not stream.exchange.complete:
            outcome.problems.append("the chunked body was not terminated")
        self.check_complete(outcome, tokens)
        return outcome

    async def disconnect_early(self, rid: str, rng: random.Random) -> Outcome:
        """Leaves right after sending the request: before the first event, often before the
        app has even run; sometimes with a reset."""
        command = rng.choice(["delay 5 30", "normal 30 5", "hang 0"])
        outcome = self.begin(Outcome(rid, "disconnect_early", "cut", 0))
        stream = await RawStream.connect(self.port)
        await stream.send(chat_request([f"{rid} {command}"]))
        await asyncio.sleep(rng.choice([0, 0, 0.002, 0.01]))
        stream.close(reset=rng.random() < 0.5)
        outcome.closed_at = stream.closed_at
        self.take_raw(outcome, stream)
        return outcome

    async def disconnect_mid(self, rid: str, rng: random.Random) -> Outcome:
        """Leaves after a random number of events of a longer answer."""
        seen = rng.randint(1, 20)
        outcome = self.begin(Outcome(rid, "disconnect_mid", "cut", 0))
        stream = await RawStream.connect(self.port)
        try:
            await stream.send(chat_request([f"{rid} normal 200 2"]))
            if not await stream.read_events(seen, 20):
                outcome.problems.append(f"{seen} events did not arrive within 20 s")
        finally:
            stream.close(reset=rng.random() < 0.5)
        outcome.closed_at = stream.closed_at
        self.take_raw(outcome, stream)
        if outcome.events and outcome.events[-1].event != "message":
            # The whole answer was already in the client's socket when it came to read
            # (a loaded loop; coalesced writes): then it must be exactly the whole answer.
            outcome.expect, outcome.tokens = "complete", 200
            self.check_complete(outcome, 200)
        else:
            self.check_prefix(outcome)
        return outcome

    async def stall(self, rid: str, rng: random.Random) -> Outcome:
        """Keeps the connection open with a tiny receive window and stops reading: the
        server must drop it after its send timeout, while the client still holds on."""
        outcome = self.begin(Outcome(rid, "stall", "cut", 0, stalled=True))
        stream = await RawStream.connect(self.port, receive_buffer=4096)
        try:
            # The bot yields its 64 KiB tokens without awaiting: the server's buffers (MiBs)
            # fill within one turn of its loop, however loaded, and its write blocks there;
            # send_timeout runs from then on. Paying one loop turn per token, a few dozen
            # turns took 1.3 to 3.5 s as the soak's 300 clients started at once.
            await stream.send(chat_request([f"{rid} big 240 65536"]))
            while not stream.exchange.status and await stream.read_some(4096):
                pass
            # Stalled for real: without this the StreamReader would take 2 MiB more.
            stream.stop_reading()
            await asyncio.sleep(SEND_TIMEOUT + 1.5)
        finally:
            stream.close()
        outcome.closed_at = stream.closed_at
        outcome.status = stream.exchange.status
        return outcome

    async def bot_raises(self, rid: str, rng: random.Random) -> Outcome:
        tokens = rng.choice([0, 0, 1, 3, 10])
        outcome = self.begin(Outcome(rid, "bot_raises", "error", tokens))
        stream = await RawStream.connect(self.port)
        try:
            await stream.send(chat_request([f"{rid} raise {tokens} 1"]))
            if not await stream.read_to_end(30):
                outcome.problems.append("the response did not end within 30 s")
        finally:
            stream.close()
        self.take_raw(outcome, stream)
        raw = bytes(stream.exchange.raw)
        if leaked(raw, BOT_FAILURE_FRAGMENTS):
            outcome.problems.append(f"the bot's secret reached the client: {raw[-300:]!r}")
        if self.target == "core" and tokens == 0:
            # chat_app prefetches: a bot failing at once is an HTTP 500 with a JSON body.
            if outcome.status != 500 or b'"status": 500' not in stream.exchange.body:
                outcome.problems.append(f"expected a JSON 500, got {raw[:300]!r}")
            return outcome
        self.check_ended(outcome, tokens, final="error")
        return outcome

    async def bot_hangs(self, rid: str, rng: random.Random) -> Outcome:
        """The bot stops answering after a few tokens; the client gives up after a while."""
        tokens = rng.choice([0, 1, 3])
        outcome = self.begin(Outcome(rid, "bot_hangs", "cut", 0))
        stream = await RawStream.connect(self.port)
        try:
            await stream.send(chat_request([f"{rid} hang {tokens}"]))
            if tokens and not await stream.read_events(tokens, 20):
                outcome.problems.append(f"{tokens} events did not arrive within 20 s")
            await asyncio.sleep(rng.uniform(0.05, 0.7))
        finally:
            stream.close(reset=rng.random() < 0.3)
        outcome.closed_at = stream.closed_at
        self.take_raw(outcome, stream)
        self.check_prefix(outcome)
        return outcome

    # -- what the client must have received ----------------------------------------------

    @staticmethod
    def take_raw(outcome: Outcome, stream: RawStream) -> None:
        outcome.status = stream.exchange.status
        if stream.exchange.headers.get("content-type", "").startswith("text/event-stream"):
            outcome.events = stream.exchange.events()

    def check_complete(self, outcome: Outcome, tokens: int) -> None:
        self.check_ended(outcome, tokens, final="done")

    def check_ended(self, outcome: Outcome, tokens: int, *, final: str) -> None:
        """``tokens`` message events joining to the bot's output, then one ``final`` event."""
        events = outcome.events
        if outcome.status != 200:
            outcome.problems.append(f"status {outcome.status}")
            return
        if not events or events[-1].event != final:
            outcome.problems.append(f"the last event is not {final!r}: {events[-1:]}")
            return
        messages = events[:-1]
        if [event.event for event in messages] != ["message"] * tokens:
            outcome.problems.append(f"{len(messages)} events before the end, expected {tokens}")
        if "".join(event.data for event in messages) != expected_text(outcome.rid, tokens):
            outcome.problems.append("the joined data differs from the bot's output")
        if self.target == "core" and events[-1].id != "ssekit-finished":
            outcome.problems.append(f"the final event's id is {events[-1].id!r}")

    @staticmethod
    def check_prefix(outcome: Outcome) -> None:
        """A cut stream: what arrived is the start of the bot's output, nothing else."""
        if outcome.status not in (0, 200):
            outcome.problems.append(f"status {outcome.status}")
        if any(event.event != "message" for event in outcome.events):
            outcome.problems.append(f"unexpected events: {outcome.events}")
        text = "".join(event.data for event in outcome.events)
        if not expected_text(outcome.rid, 200).startswith(text):
            outcome.problems.append("the data received is not a prefix of the bot's output")


def check_server_side(soak: Soak, records: dict[str, list[Any]]) -> dict[str, Any]:
    """Every producer closed; complete ones yielded exactly their tokens; cut ones were
    closed within :data:`CLOSE_BOUND` of the client leaving (stalled ones before)."""
    latencies: list[float] = []
    for outcome in soak.outcomes:
        record = records.get(outcome.rid)
        if record is None:
            if outcome.expect != "cut":
                outcome.problems.append("the bot never ran")
            continue  # the client left before the app read its request
        yielded, finally_at = record[1], record[2]
        if finally_at is None:
            outcome.problems.append("the producer's finally never ran")
            continue
        if outcome.expect in ("complete", "error") and yielded != outcome.tokens:
            outcome.problems.append(f"the bot yielded {yielded}, expected {outcome.tokens}")
        if outcome.closed_at is None:
            continue
        latency = finally_at - outcome.closed_at
        latencies.append(latency)
        if outcome.stalled and soak.target != "quart" and latency >= 0:
            outcome.problems.append(
                f"a stalled reader's producer ran until the client left ({latency:+.2f} s)"
            )
        elif latency > CLOSE_BOUND:
            outcome.problems.append(
                f"the producer was closed {latency:.2f} s after the client left"
            )
    known = {outcome.rid for outcome in soak.outcomes}
    strays = {rid for rid in records if rid[2] == soak.phase} - known
    assert not strays, f"producers for requests no client made: {sorted(strays)[:5]}"
    after = sorted(latency for latency in latencies if latency >= 0)
    return {
        "close_after_leave_p50_ms": round(1000 * statistics.median(after), 1) if after else None,
        "close_after_leave_max_ms": round(1000 * after[-1], 1) if after else None,
    }


async def settle(server: ServerProcess, baseline: dict[str, Any] | None) -> dict[str, Any]:
    """Wait until no producer is open (and tasks/fds are back to ``baseline``)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        stats = await asyncio.to_thread(server.stats, collect=True)
        idle = not stats["open"]
        if baseline is not None:
            idle = idle and stats["tasks"] <= baseline["tasks"] and stats["fds"] <= baseline["fds"]
        if idle or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.25)


async def soak_target(
    server: ServerProcess, target: str, seed: int, not_run: frozenset[str] = frozenset()
) -> dict[str, Any]:
    # Every stream on a fresh connection: a pooled keep-alive connection that the server
    # closes just as the client reuses it fails with "Server disconnected without sending a
    # response" (seen once in ~5,000 streams on hypercorn), a race of HTTP keep-alive, not
    # of the stream under test.
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(30.0)

    async def phase(name: str, seconds: float) -> Soak:
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as http:
            soak = Soak(server, target, http, name, not_run)
            await soak.run(seconds, CLIENTS, seed)
        return soak

    await phase("w", WARMUP_SECONDS)
    baseline = await settle(server, None)
    await asyncio.sleep(1.0)
    baseline = await asyncio.to_thread(server.stats, collect=True)

    peak_rss = [baseline["rss_kib"]]
    sampling = True

    async def sample() -> None:
        while sampling:
            await asyncio.sleep(1.0)
            stats = await asyncio.to_thread(server.stats)
            peak_rss.append(stats["rss_kib"])

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    soak = await phase("s", SOAK_SECONDS)
    elapsed = time.monotonic() - started
    sampling = False
    await sampler
    after = await settle(server, baseline)
    records = (await asyncio.to_thread(server.stats, records=True))["records"]
    latency = check_server_side(soak, records)

    log = server.log_text()
    problems = [(o.rid, o.scenario, o.problems) for o in soak.outcomes if o.problems]
    assert not problems, f"{len(problems)} bad streams, e.g. {problems[:5]}\n{log[-3000:]}"
    assert not after["open"], f"producers never closed: {after['open'][:10]}"
    assert after["tasks"] <= baseline["tasks"], f"tasks: {baseline['tasks']} -> {after['tasks']}"
    assert after["fds"] <= baseline["fds"], f"fds: {baseline['fds']} -> {after['fds']}"
    growth_mib = (after["rss_kib"] - baseline["rss_kib"]) / 1024
    assert growth_mib <= MEMORY_SLACK_MIB, f"RSS grew {growth_mib:.1f} MiB over the baseline"

    scenarios = collections.Counter(outcome.scenario for outcome in soak.outcomes)
    faults = sum(n for name, n in scenarios.items() if not name.startswith(("normal", "slow")))
    complete = [o for o in soak.outcomes if o.expect == "complete"]
    return {
        "server": server.process.args[-1] if isinstance(server.process.args, list) else "",
        "seconds": round(elapsed, 1),
        "clients": CLIENTS,
        "streams": len(soak.outcomes),
        "scenarios": dict(sorted(scenarios.items())),
        "faults_injected": faults,
        "events_delivered_in_complete_streams": sum(len(o.events) for o in complete),
        "events_lost": 0,  # asserted above: every complete stream matched the bot exactly
        "producers_started": len(records),
        "producers_left_open": len(after["open"]),
        "tasks_baseline_after": [baseline["tasks"], after["tasks"]],
        "fds_baseline_after": [baseline["fds"], after["fds"]],
        "rss_mib_baseline_peak_after": [
            round(baseline["rss_kib"] / 1024, 1),
            round(max(peak_rss) / 1024, 1),
            round(after["rss_kib"] / 1024, 1),
        ],
        **latency,
    }


@pytest.mark.soak
@pytest.mark.timeout(SOAK_SECONDS + WARMUP_SECONDS + 120)
@pytest.mark.parametrize(("target", "server"), TARGETS)
def test_chaos_soak(target: str, server: str, tmp_path: Path) -> None:
    arguments = ["--target", target, "--server", server, "--send-timeout", str(SEND_TIMEOUT)]
    with server_process(tmp_path, *arguments) as process:
        seed, not_run = zlib.crc32(target.encode()), SCENARIOS_NOT_RUN.get(server, frozenset())
        figures = asyncio.run(soak_target(process, target, seed, not_run))
    figures["server"] = server
    name = f"{target}-{server}" if target == "django" else target  # Django runs on two
    FIGURES[f"chaos[{name}]"] = figures

"""SIGTERM with 200 open streams: the server exits in time and every stream ends cleanly.

The server process sets a :class:`ssekit.ShutdownSignal` (``grace`` 1 s) as its
shutdown begins, the way docs/serving.md says for each server, and keeps the
server's own graceful timeout (:data:`GRACEFUL_TIMEOUT`) as the backstop. Half
the streams are answers that can finish within the grace; half are bots that
hang. Every client must see a terminated response whose last event is whole —
``done``, or the ``the server is shutting down`` error event — and the server
must write, at exit, that every producer's ``finally`` ran.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import FIGURES
from tests.reliability.launcher import server_process
from tests.support.aclient import RawStream, chat_request
from tests.support.server_app import expected_text

STREAMS = 200
GRACE = 1.0
GRACEFUL_TIMEOUT = 3.0
SHUTDOWN_MESSAGE = "the server is shutting down"


async def open_streams(port: int) -> list[tuple[str, int, RawStream]]:
    """``STREAMS`` streams, each past its first event: (rid, tokens or -1 for hang, stream)."""

    async def one(index: int) -> tuple[str, int, RawStream]:
        rid = f"sd{index:04d}"
        tokens = 20 if index % 2 else -1
        command = f"normal {tokens} 20" if tokens > 0 else "hang 2"
        stream = await RawStream.connect(port)
        await stream.send(chat_request([f"{rid} {command}"]))
        assert await stream.read_events(1, 20), f"{rid}: no first event within 20 s"
        return rid, tokens, stream

    return list(await asyncio.gather(*(one(index) for index in range(STREAMS))))


def check_clean_end(rid: str, tokens: int, stream: RawStream) -> str:
    """The response ended properly and its last event is whole; returns how it ended."""
    exchange = stream.exchange
    assert exchange.status == 200, rid
    assert exchange.complete, f"{rid}: the chunked body was cut: {bytes(exchange.raw[-120:])!r}"
    assert exchange.body.endswith(b"\n\n"), f"{rid}: a truncated last event"
    events = exchange.events()
    assert events, rid
    *messages, final = events
    assert all(event.event == "message" for event in messages), f"{rid}: {events}"
    text = "".join(event.data for event in messages)
    if final.event == "done":
        assert tokens > 0 and text == expected_text(rid, tokens), f"{rid}: {events}"
        return "done"
    assert final.event == "error" and final.data == SHUTDOWN_MESSAGE, f"{rid}: {final}"
    assert expected_text(rid, max(tokens, 2)).startswith(text), f"{rid}: {events}"
    return "shutdown-error"


async def shut_down_under_load(tmp_path: Path, server: str) -> dict[str, Any]:
    stats_file = tmp_path / "stats.json"
    arguments = [
        "--server", server, "--grace", str(GRACE), "--graceful-timeout", str(GRACEFUL_TIMEOUT),
        "--stats-file", str(stats_file),
    ]  # fmt: skip
    with server_process(tmp_path, *arguments) as process:
        streams = await open_streams(process.port)
        sent = process.terminate()
        reads = [stream.read_to_end(GRACEFUL_TIMEOUT + 5) for _, _, stream in streams]
        await asyncio.gather(*reads)
        try:
            await asyncio.to_thread(process.process.wait, GRACEFUL_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{server} still running {GRACEFUL_TIMEOUT + 5} s after SIGTERM")
        exited = time.monotonic() - sent
        for _, _, stream in streams:
            stream.close()
        log = process.log_text()
    # uvicorn re-raises the signal it handled once it has shut down (for process managers).
    assert process.process.returncode in (0, -signal.SIGTERM), log
    assert exited <= GRACEFUL_TIMEOUT + 1, f"{server} took {exited:.2f} s to exit"
    assert "Traceback" not in log, log
    endings = [check_clean_end(rid, tokens, stream) for rid, tokens, stream in streams]
    stats = json.loads(stats_file.read_text())
    records = stats["records"]
    assert set(records) == {rid for rid, _, _ in streams}
    unfinished = [rid for rid, record in records.items() if record[2] is None]
    assert not unfinished, f"producers whose finally never ran: {unfinished[:10]}"
    return {
        "streams": STREAMS,
        "exit_after_sigterm_s": round(exited, 2),
        "bound_s": GRACEFUL_TIMEOUT + 1,
        "ended_done": endings.count("done"),
        "ended_shutdown_error": endings.count("shutdown-error"),
        "producers_finally_ran": len(records) - len(unfinished),
    }


@pytest.mark.timeout(90)
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "hypercorn-trio"])
def test_sigterm_with_200_open_streams(server: str, tmp_path: Path) -> None:
    FIGURES[f"shutdown[{server}]"] = asyncio.run(shut_down_under_load(tmp_path, server))

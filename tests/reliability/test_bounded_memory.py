"""A client that never reads cannot make the server buffer without limit.

Ten clients with a 4 KiB receive buffer ask for a producer that yields 64 KiB
events as fast as it can, then read nothing. The producer must be made to wait:
what it has yielded stays within what the buffers between it and the client can
hold (:func:`bytes_bound`), stops growing, and the server's memory grows by no
more than the user-space part of that bound. Then ``send_timeout`` drops each
client — while it still holds its socket open — and closes its producer.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import FIGURES
from tests.reliability.launcher import ServerProcess, server_process
from tests.support.aclient import RawStream

CLIENTS = 10
EVENT = 64 * 1024
MAX_BUFFER = 64 * 1024
SEND_TIMEOUT = 4.0
CLIENT_RCVBUF = 4096
#: asyncio's transport write buffer high-water mark, which uvicorn's flow control uses.
TRANSPORT_HIGH_WATER = 64 * 1024


def user_space_bound() -> int:
    """Bytes of one stream that may sit in the server process.

    ssekit's buffer (``max_buffer`` plus the event that crossed it), the event the
    producer holds, and the transport's buffer (its high-water mark plus the one
    write that crossed it, at most a whole ssekit buffer).
    """
    ssekit_buffer = MAX_BUFFER + EVENT
    return ssekit_buffer + EVENT + TRANSPORT_HIGH_WATER + ssekit_buffer


def kernel_bound(client_rcvbuf: int) -> int:
    """Bytes beyond the server's transport: the server's send buffer (autotuned up to
    ``tcp_wmem``'s maximum) and the client's receive buffer. Measured on loopback, the
    server's ``send()`` accepts up to about 1.2x ``tcp_wmem`` max before it blocks
    (uvloop queues writes past its high-water mark), so the kernel's share is counted
    twice: a loose bound, but a bound (a producer that is never made to wait would
    pass it within milliseconds)."""
    tcp_wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return 2 * tcp_wmem_max + client_rcvbuf


def yielded(server: ServerProcess, rids: list[str]) -> dict[str, list[Any]]:
    records: dict[str, list[Any]] = server.stats(records=True)["records"]
    return {rid: records[rid] for rid in rids if rid in records}


async def stall_clients(server: ServerProcess, rids: list[str]) -> list[RawStream]:
    streams = []
    for rid in rids:
        stream = await RawStream.connect(server.port, receive_buffer=CLIENT_RCVBUF)
        query = f"rid={rid}&size={EVENT}&send_timeout={SEND_TIMEOUT}&max_buffer={MAX_BUFFER}"
        await stream.send(f"GET /_big?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        streams.append(stream)
    return streams


async def run(server: ServerProcess) -> dict[str, Any]:
    baseline = server.stats(collect=True)
    rids = [f"mem{index}" for index in range(CLIENTS)]
    streams = await stall_clients(server, rids)
    opened = time.monotonic()
    rcvbuf = (
        streams[0].writer.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    )
    # Wait until every producer has stopped (no growth for half a second).
    previous: dict[str, Any] = {}
    while True:
        await asyncio.sleep(0.5)
        counts = {rid: record[1] for rid, record in yielded(server, rids).items()}
        if counts == previous and len(counts) == CLIENTS:
            break
        previous = counts
        assert time.monotonic() - opened < SEND_TIMEOUT - 1, "the producers never stopped"
    stalled = await asyncio.to_thread(server.stats, collect=True)
    await asyncio.sleep(0.5)
    again = {rid: record[1] for rid, record in yielded(server, rids).items()}
    assert again == previous, "a producer kept producing for a client that reads nothing"

    # ssekit's own share: what was yielded but not yet accepted by the server's send().
    records = yielded(server, rids)
    held = max((record[1] * EVENT - record[3]) for record in records.values())
    assert held <= MAX_BUFFER + 2 * EVENT, f"ssekit held {held} bytes for a stalled client"
    # Everything: ssekit, the server's transport and both kernels.
    bound = user_space_bound() + kernel_bound(rcvbuf)
    worst = max(previous.values()) * EVENT
    assert worst <= bound, f"a producer yielded {worst} bytes; the buffers hold {bound}"
    growth = (stalled["rss_kib"] - baseline["rss_kib"]) * 1024
    rss_bound = CLIENTS * user_space_bound() * 2 + 8 * 2**20  # x2: allocator overhead
    assert growth <= rss_bound, f"RSS grew {growth} bytes for {CLIENTS} stalled clients"

    # The send timeout drops them, though each still holds its socket open.
    deadline = opened + SEND_TIMEOUT + 5
    while time.monotonic() < deadline:
        records = yielded(server, rids)
        if all(record[2] is not None for record in records.values()):
            break
        await asyncio.sleep(0.1)
    closed_at = time.monotonic()
    records = yielded(server, rids)
    assert all(record[2] is not None for record in records.values()), "not dropped"
    for stream in streams:
        stream.close()
    return {
        "clients": CLIENTS,
        "event_bytes": EVENT,
        "max_buffer": MAX_BUFFER,
        "events_yielded_max": max(previous.values()),
        "bytes_yielded_max": worst,
        "bytes_held_by_ssekit_max": held,
        "bound_bytes": bound,
        "rss_growth_kib": growth // 1024,
        "rss_bound_kib": rss_bound // 1024,
        "dropped_after_s": round(closed_at - opened, 2),
        "send_timeout": SEND_TIMEOUT,
    }


@pytest.mark.timeout(60)
def test_a_client_that_never_reads_cannot_make_the_server_buffer(tmp_path: Path) -> None:
    with server_process(tmp_path, "--target", "core") as server:
        FIGURES["bounded_memory"] = asyncio.run(run(server))

"""Regression: on Quart, a client leaving right after its request must not leak the stream.

Quart's ``Request.get_data`` awaits the body with ``asyncio.wait_for``; on CPython
< 3.12 ``wait_for`` returns the result and *swallows* a cancellation that arrives as
the body completes (CPython gh-86296, fixed in 3.12). Quart cancels the handler
when the client disconnects, so if the client leaves just as its request is read,
the handler goes on, returns ssekit's response, and the body is iterated into a
dead connection forever: a bot that never ends is never closed, and the request's
tasks are never freed. The task is left with ``cancelling() > 0``; ssekit_quart
checks that at every chunk or heartbeat and ends the stream.
"""

from __future__ import annotations

import socket
import time

from tests.reliability.aclient import chat_request
from tests.reliability.server_app import STATS, Options, build_app
from tests.servers import serve

CLIENTS = 40


def test_client_leaving_as_its_request_is_read_closes_the_bot_on_quart() -> None:
    app = build_app("quart", Options(ping=0.2, send_timeout=1.0))
    rids = [f"quart-early-{index}" for index in range(CLIENTS)]
    with serve(app, "hypercorn-asyncio") as running:
        for rid in rids:
            with socket.create_connection(("127.0.0.1", running.port)) as sock:
                sock.sendall(chat_request([f"{rid} hang 0"]))
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if all(rid in STATS.records and STATS.records[rid].finally_at for rid in rids):
                break
            time.sleep(0.05)
        leaked = [rid for rid in rids if rid in STATS.records and not STATS.records[rid].finally_at]
        # Let the server's shutdown cancel what leaked, so the thread stops.
    assert not leaked, f"{len(leaked)} of {CLIENTS} bots still running 3 s after their client left"

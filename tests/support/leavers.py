"""Clients that leave as soon as their request is sent, and a count of what the server still serves.

Quart's early-disconnect regression (tests/reliability/test_quart_early_disconnect.py) and its
`lend_send` twin (tests/adapters/test_quart_lent.py) send the same burst of requests to a
bot that waits (`tests.support.server_app`'s `hang`), hang up at once, and then look whether
each request ended and each bot was closed without any event being written.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from tests.support.aclient import chat_request
from tests.support.server_app import STATS


class InFlight:
    """ASGI middleware counting the `/chat` requests being served (`chat`) and ended (`served`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.chat = 0
        self.served = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("path") != "/chat":
            await self.inner(scope, receive, send)
            return
        self.chat += 1
        try:
            await self.inner(scope, receive, send)
        finally:
            self.chat -= 1
            self.served += 1

    def wait_all_served(self, count: int, timeout: float) -> None:
        """Return once `count` requests have ended and none is served, or after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.served == count and self.chat == 0:
                return
            time.sleep(0.02)


def leave_at_once(port: int, rids: list[str]) -> None:
    """For each of `rids`, a request to a bot that waits, then a hang-up before any answer."""
    for rid in rids:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(chat_request([f"{rid} hang 0"]))


def bots_still_running(rids: list[str]) -> list[str]:
    """Those of `rids` whose bot was started and has not been closed."""
    return [rid for rid in rids if rid in STATS.records and not STATS.records[rid].finally_at]

"""`ssekit._connection`: a client that leaves, however the server says so."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ssekit._connection import Connection
from ssekit._exceptions import ClientGone
from tests.support.loops import LOOPS, run_on

CHUNK = b"data: x\n\n"
BODY = {"type": "http.response.body", "body": CHUNK, "more_body": True}


@pytest.mark.parametrize("loop", LOOPS)
def test_a_disconnect_answered_as_the_wait_is_cancelled_is_kept_under_trio(loop: str) -> None:
    """hypercorn's trio worker says `http.disconnect` once: dropped because the engine woke
    at that moment, the stream would run on unheard. Under asyncio the wake-up wins (granian
    answers a receive cancelled mid-way with a disconnect that did not happen)."""

    async def scenario() -> tuple[bool, list[Any]]:
        sent: list[Any] = []
        scope = anyio.CancelScope()

        async def receive() -> dict[str, Any]:
            scope.cancel()  # the engine wakes as the server answers
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        connection = Connection(receive, send)
        with scope:
            await connection.wait_for_disconnect()
        try:
            await connection.send_body(CHUNK)
        except ClientGone:
            return True, sent
        return False, sent

    gone, sent = run_on(loop, scenario)
    if loop == "trio":
        assert gone and sent == []
    else:
        assert not gone and sent == [BODY]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_disconnect_heard_while_waiting_is_the_client_gone(loop: str) -> None:
    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            raise AssertionError("nothing is sent")

        with pytest.raises(ClientGone):
            await Connection(receive, send).wait_for_disconnect()

    run_on(loop, scenario)

"""One ASGI request's `receive`/`send` seen as a client that may leave at any moment.

A server says a client has gone in two ways: `send` raises (`OSError`, per the
ASGI spec), or `receive` answers `http.disconnect` while `send` still succeeds
(uvicorn, hypercorn, granian). Both become `ClientGone` here, so the engine
has one thing to handle.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import anyio

from ._asgi import Message, Receive, Send
from ._exceptions import ClientGone
from ._loops import current_loop

__all__ = ["Connection", "body_writer"]

#: While the producer keeps the sender busy, look for `http.disconnect` this often.
DISCONNECT_POLL_SECONDS = 0.005
#: How long such a look may wait (trio cancels a zero-timeout wait before it looks).
_POLL_WAIT_SECONDS = 0.0005
#: What a server's `send` raises once the client has gone (ASGI spec 2.4 says `OSError`).
_DISCONNECT_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)


class Connection:
    """One ASGI request's `receive`/`send`, seen as a client that may leave."""

    __slots__ = (
        "_checked_at",
        "_checkpoint",
        "_clock",
        "_gone",
        "_listening",
        "_receive",
        "_send",
        "_trusted",
    )

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        loop = current_loop()
        self._clock = loop.clock()
        self._checkpoint = loop.checkpoint
        self._checked_at = self._clock()
        self._listening = False
        #: A disconnect answered as this wait was being cancelled: kept for the next look.
        self._gone = False
        # Our rule is: under trio, a disconnect that a receive answered is the client gone,
        # even if the engine cancelled the wait as it came, and it is kept (hypercorn says it
        # once: dropped, the stream would run on unheard). Under asyncio the wake-up wins:
        # granian answers a receive cancelled mid-way with a disconnect that did not happen.
        trio = sys.modules.get("trio")
        self._trusted = trio is not None and trio.lowlevel.in_trio_run()

    async def wait_for_disconnect(self) -> None:
        """Listen until the client leaves (the engine cancels this when it has work)."""
        if self._gone:
            raise ClientGone
        self._listening = True
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    self._gone = self._trusted
                    await self._checkpoint()
                    raise ClientGone
        finally:
            self._listening = False
            self._checked_at = self._clock()

    async def send(self, message: Message) -> None:
        """A message outside the stream's body (the start, an error): small, into an idle socket."""
        try:
            await self._send(message)
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc

    async def send_end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def send_body(self, chunk: bytes) -> None:
        """One chunk of the stream (the engine times it)."""
        if self._gone:
            raise ClientGone
        try:
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc
        if self._listening:
            return  # the engine's idle task is already waiting for http.disconnect
        now = self._clock()
        if now - self._checked_at >= DISCONNECT_POLL_SECONDS:
            # The stream keeps its sender busy, and a server whose send() still succeeds
            # after a disconnect (uvicorn, hypercorn, granian) says so only on receive().
            self._checked_at = now
            with anyio.move_on_after(_POLL_WAIT_SECONDS):
                if (await self._receive())["type"] == "http.disconnect":
                    raise ClientGone


def body_writer(send: Send) -> Callable[[bytes], Awaitable[None]]:
    """The engine's `write` for a lent `send`: each chunk one body message."""

    async def write(chunk: bytes) -> None:
        try:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc

    return write

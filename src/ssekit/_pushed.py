"""Events pushed by other tasks: a producer fed through a bounded channel.

Most producers pull: an async generator that awaits the model and yields. Some
streams are fed from elsewhere instead (a pub/sub listener, a job's progress
callback, several tasks at once). [pushed][ssekit.pushed] gives such code the
send side of a bounded anyio memory object stream, runs the sender in a task of
its own, and ties both to the response: when the client leaves, the receive
side is closed (every later `send` raises `anyio.BrokenResourceError`) and the
sender is cancelled, and its `finally` has run when the response ends.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ._options import check_count
from ._producer import Item
from ._redact import log_error

__all__ = ["EventSender", "PushedEvents", "pushed"]

#: The send side a sender gets: `await send.send(event)`; `send.clone()` for another task.
EventSender: TypeAlias = MemoryObjectSendStream[Item]
#: How long closing waits for a cancelled sender to run its `finally`.
_SENDER_EXIT_SECONDS = 5.0


def pushed(
    sender: Callable[[EventSender], Awaitable[None]], *, max_items: int = 16
) -> PushedEvents:
    """A producer whose events `sender(send)` pushes, at most `max_items` waiting.

    The response starts `sender` in a task of its own when it starts streaming
    (never for `HEAD` or a finished stream's reconnect). The stream ends when
    every send side is closed: `sender`'s own when it returns, each `clone()`
    when its task closes it (`async with send.clone() as mine:`). A sender that
    raises ends the stream with an error event. When the client leaves, the
    sender is cancelled and every later `send` raises `anyio.BrokenResourceError`.
    """
    if not callable(sender):
        raise TypeError(f"sender must be callable, not {type(sender).__name__}")
    return PushedEvents(sender, check_count("max_items", max_items))


class PushedEvents:
    """The producer [pushed][ssekit.pushed] returns: iterate it once, close it once done."""

    __slots__ = ("_done", "_failure", "_receive", "_scope", "_send", "_sender", "_task")

    def __init__(self, sender: Callable[[EventSender], Awaitable[None]], max_items: int) -> None:
        self._sender = sender
        self._send, self._receive = anyio.create_memory_object_stream[Item](max_items)
        self._scope = anyio.CancelScope()
        self._failure: Exception | None = None
        self._done: anyio.Event | None = None
        self._task: object = None  # keeps an asyncio task referenced while it runs

    def __aiter__(self) -> PushedEvents:
        return self

    async def __anext__(self) -> Item:
        if self._done is None:
            self._start()
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._failure is not None:
                raise self._failure from None
            raise StopAsyncIteration from None

    def _start(self) -> None:
        self._done = anyio.Event()
        trio = sys.modules.get("trio")
        if trio is not None and trio.lowlevel.in_trio_run():
            trio.lowlevel.spawn_system_task(self._run_sender)
        else:
            self._task = asyncio.get_running_loop().create_task(self._run_sender())

    async def _run_sender(self) -> None:
        """The sender's task: it runs until it returns, fails, or the client has gone."""
        assert self._done is not None
        try:
            with self._scope:
                async with self._send:
                    await self._sender(self._send)
        except anyio.BrokenResourceError:
            pass  # it sent after the client had gone: that is how it learns
        except Exception as exc:
            self._failure = exc  # the stream's error event, once the receiver sees the end
        finally:
            self._done.set()

    async def aclose(self) -> None:
        """Close the receive side, cancel the sender, and wait (bounded) for it to end."""
        self._receive.close()
        self._scope.cancel()
        if self._done is None:
            self._send.close()  # never started: nothing will run
            return
        with anyio.move_on_after(_SENDER_EXIT_SECONDS, shield=True) as waited:
            await self._done.wait()
        if waited.cancelled_caught:
            log_error(TimeoutError(self._sender), "the sender did not end when cancelled")

    def __repr__(self) -> str:
        return f"pushed({self._sender!r})"

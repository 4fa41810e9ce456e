"""What a producer is, and how the engine opens and closes one.

A producer is whatever yields a stream's events: an async iterable (usually an
async generator wrapping a model call), or a sync iterable run in a worker
thread. Closing it is what stops the paid model call, so it is done on every
path, shielded from the cancellation that usually causes it, and bounded.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TypeAlias, cast

import anyio
import anyio.to_thread

from ._encoder import EventLike
from ._redact import log_error

__all__ = ["CLOSE_TIMEOUT", "Item", "Producer", "aclose_quietly", "close_producer", "open_producer"]

#: What a producer may yield: an event, a seed-style dict, or bytes already encoded.
Item: TypeAlias = "EventLike | bytes"
#: What a response streams: an async (or sync, run in a worker thread) iterable of items.
Producer: TypeAlias = "AsyncIterable[Item] | Iterable[Item]"
#: How long a producer may take to run its `finally` when closed.
CLOSE_TIMEOUT = 5.0


def check_producer(events: object) -> Producer:
    """`events` if it can be a producer, else a `TypeError` naming it."""
    if not isinstance(events, (AsyncIterable, Iterable)) or isinstance(events, (str, bytes, dict)):
        raise TypeError(
            f"events must be an async or sync iterable of events, not {type(events).__name__}"
        )
    return events


def open_producer(events: Producer) -> AsyncIterator[Item]:
    """An async iterator over `events` (a sync one runs one `next()` per worker-thread call)."""
    if isinstance(events, AsyncIterable):
        return aiter(events)
    return _in_thread(iter(events))


class _ThreadStepper:
    """Steps a sync iterator in worker threads, and closes it only between two steps.

    Our rule is: a sync generator is never closed while its `next()` runs. Closing
    it then raises `ValueError: generator already executing` and leaves it open,
    and that is exactly when a client leaves (the loop's task is cancelled while
    the thread is still inside `next()`). A close that comes during a step is
    done by the stepping thread as soon as `next()` returns; the item is dropped.
    The lock is held only to read and set the two flags, never across `next()`.
    """

    def __init__(self, iterator: Iterator[Item]) -> None:
        self._iterator = iterator
        self._flags = threading.Lock()
        self._stepping = False
        self._closing = False

    def step(self, end: object) -> object:
        with self._flags:
            if self._closing:
                return end
            self._stepping = True
        try:
            item = next(self._iterator, end)
        finally:
            with self._flags:
                self._stepping = False
                close_now = self._closing
        if close_now:
            _close_sync(self._iterator)
            return end
        return item

    def close(self) -> None:
        with self._flags:
            self._closing = True
            close_now = not self._stepping
        if close_now:
            _close_sync(self._iterator)


#: The sync iterators being stepped in threads, so that `close_producer(events)` on the
#: user's own generator also waits for its step instead of racing it.
_STEPPERS: weakref.WeakKeyDictionary[object, _ThreadStepper] = weakref.WeakKeyDictionary()


async def _in_thread(iterator: Iterator[Item]) -> AsyncIterator[Item]:
    end = object()
    stepper = _ThreadStepper(iterator)
    with contextlib.suppress(TypeError):  # not weak-referenceable: only this wrapper closes it
        _STEPPERS[iterator] = stepper
    try:
        while True:
            item = await anyio.to_thread.run_sync(stepper.step, end)
            if item is end:
                return
            yield cast("Item", item)
    finally:
        stepper.close()


async def aclose_quietly(iterator: object, within: float = CLOSE_TIMEOUT) -> None:
    """Close an async iterator now, even inside a cancelled scope.

    The close is shielded (bounded by `within` seconds) so that the generator's
    `finally` — which typically closes a paid upstream request — runs to
    completion instead of being cancelled at its first `await`.
    """
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    with anyio.move_on_after(within, shield=True):
        try:
            result = aclose()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log_error(exc, "closing the producer failed")


async def close_producer(events: object) -> None:
    """Close a producer (async iterator, or sync generator) without iterating it."""
    if hasattr(events, "aclose"):
        await aclose_quietly(events)
        return
    try:
        stepper = _STEPPERS.get(events)
    except TypeError:
        stepper = None
    if stepper is not None:
        stepper.close()
    else:
        _close_sync(events)


def _close_sync(events: object) -> None:
    close = getattr(events, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:
            log_error(exc, "closing the producer failed")

"""The running event loop's clock and checkpoint, looked up once per stream.

``anyio.current_time()`` and ``anyio.lowlevel.checkpoint()`` find the backend
on every call; on a stream's hot path (a few per event) that lookup costs more
than the rest of the engine. These are the same functions anyio ends up
calling, so deadlines stay comparable with :class:`anyio.CancelScope`'s.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import types
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

__all__ = ["Backend", "await_noting_suspension", "current_backend"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backend:
    #: The clock of ``anyio.current_time()`` (and of cancel scope deadlines).
    clock: Callable[[], float]
    #: ``anyio.lowlevel.checkpoint()``: let other tasks run, and honour cancellation.
    checkpoint: Callable[[], Awaitable[None]]


def _asyncio_clock() -> float:
    return asyncio.get_running_loop().time()


# Shared by every stream: nothing is allocated per stream.
_ASYNCIO = Backend(_asyncio_clock, functools.partial(asyncio.sleep, 0))
_TRIO: list[Backend] = []


def current_backend() -> Backend:
    """The backend of the running loop: trio, else asyncio."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        if not _TRIO:
            _TRIO.append(Backend(trio.current_time, trio.lowlevel.checkpoint))
        return _TRIO[0]
    return _ASYNCIO


@types.coroutine
def await_noting_suspension(
    awaitable: Awaitable[T], on_suspend: Callable[[], object]
) -> Generator[Any, Any, T]:
    """``await awaitable``, calling ``on_suspend()`` once if it has to wait.

    It behaves exactly as ``await`` (every value the awaitable yields to the event
    loop is passed on at once, and everything sent or thrown back is forwarded),
    so it works the same under asyncio and trio. ``on_suspend`` runs just before
    the first suspension, synchronously: it must not await.
    """
    iterator = awaitable.__await__()
    try:
        signal = iterator.send(None)
    except StopIteration as stop:
        return cast("T", stop.value)
    on_suspend()
    while True:
        try:
            sent = yield signal
        except GeneratorExit:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            raise
        except BaseException as exc:
            try:
                signal = iterator.throw(exc)
            except StopIteration as stop:
                return cast("T", stop.value)
        else:
            try:
                signal = iterator.send(sent)
            except StopIteration as stop:
                return cast("T", stop.value)

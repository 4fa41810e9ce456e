"""The running event loop's clock, checkpoint and alarm, looked up once per stream.

``anyio.current_time()`` and ``anyio.lowlevel.checkpoint()`` find the backend
on every call; on a stream's hot path (a few per event) that lookup costs more
than the rest of the engine. These are the same functions anyio ends up
calling, so deadlines stay comparable with :class:`anyio.CancelScope`'s.

An :class:`Alarm` is how one task waits until another has work for it: the
waiting task is cancelled out of its wait. Under asyncio that is done
as ``asyncio.timeout()`` does it — ``task.cancel()``, then ``uncancel()`` — at
a fifth of the cost of cancelling an :class:`anyio.CancelScope`, which matters
when a stream is woken once per token (a host that pulls chunks, or a producer
that hands over tokens it did not have to wait for).
"""

from __future__ import annotations

import asyncio
import functools
import math
import sys
import types
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import anyio

__all__ = ["Alarm", "Backend", "await_noting_suspension", "current_backend"]

T = TypeVar("T")


class Alarm(Protocol):
    """Run ``work`` until it returns, a deadline passes, or another task rings."""

    async def wait(
        self,
        work: Callable[[], Awaitable[object]] | None,
        deadline: float,
        *,
        ringable: bool = True,
    ) -> bool:
        """Await ``work()`` (``None``: just wait); True if the deadline cut it short.

        Only a ``ringable`` wait is cut short by :meth:`ring` (and then returns
        False); at most one wait runs at a time.
        """
        ...

    def ring(self) -> None:
        """Cut the current ringable wait short (nothing if there is none)."""
        ...


class _ScopeAlarm:
    """trio: the wait runs in an :class:`anyio.CancelScope`."""

    __slots__ = ("_rung", "_scope")

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None
        self._rung = False

    async def wait(
        self,
        work: Callable[[], Awaitable[object]] | None,
        deadline: float,
        *,
        ringable: bool = True,
    ) -> bool:
        self._rung = False
        with anyio.CancelScope(deadline=deadline) as scope:
            if ringable:
                self._scope = scope
            try:
                await (work or anyio.sleep_forever)()
            finally:
                self._scope = None
        return scope.cancelled_caught and not self._rung

    def ring(self) -> None:
        if self._scope is not None:
            self._rung = True
            self._scope.cancel()
            self._scope = None


_RUNG = "rung"
_EXPIRED = "expired"


class _TaskAlarm:
    """asyncio: the waiting task is cancelled and uncancelled, as ``asyncio.timeout`` does.

    A cancellation that is not the alarm's own (an enclosing cancel scope's, the
    server's) is counted by ``Task.cancelling()`` and always propagates. With no
    work to interrupt, the wait is a plain future, cheaper still.
    """

    __slots__ = ("_cause", "_future", "_generation", "_ringable", "_task")

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._future: asyncio.Future[bool] | None = None
        self._ringable = False
        self._cause: str | None = None
        self._generation = 0

    async def wait(
        self,
        work: Callable[[], Awaitable[object]] | None,
        deadline: float,
        *,
        ringable: bool = True,
    ) -> bool:
        if work is None:
            return await self._sleep(deadline)
        task = asyncio.current_task()
        assert task is not None, "an alarm waits in a task"
        self._task, self._ringable, self._cause = task, ringable, None
        self._generation += 1
        timer = None
        if deadline != math.inf:
            loop = asyncio.get_running_loop()
            timer = loop.call_at(deadline, self._interrupt, self._generation, _EXPIRED)
        cancelling = task.cancelling()
        try:
            await work()
        except asyncio.CancelledError:
            if self._cause is None or task.uncancel() > cancelling:
                raise
            return self._cause == _EXPIRED
        finally:
            self._task = None
            if timer is not None:
                timer.cancel()
        if self._cause is not None:
            task.uncancel()  # work() swallowed the alarm's cancellation
        return False

    async def _sleep(self, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._future = future
        timer = None if deadline == math.inf else loop.call_at(deadline, _settle, future, True)
        try:
            return await future
        finally:
            self._future = None
            if timer is not None:
                timer.cancel()

    def ring(self) -> None:
        if self._future is not None:
            _settle(self._future, False)
        elif self._task is not None and self._ringable:
            self._interrupt(self._generation, _RUNG)

    def _interrupt(self, generation: int, cause: str) -> None:
        task = self._task
        if task is None or generation != self._generation or self._cause is not None:
            return  # that wait is over, or already interrupted
        waiter = task._fut_waiter  # type: ignore[attr-defined]
        if waiter is not None and waiter.done():
            # The task is about to resume with a result (a message, say): cancelling it
            # now would lose that. Interrupt it once it waits again, if it still does.
            task.get_loop().call_soon(self._interrupt, generation, cause)
            return
        self._cause = cause
        task.cancel()


def _settle(future: asyncio.Future[bool], expired: bool) -> None:
    if not future.done():
        future.set_result(expired)


@dataclass(frozen=True, slots=True)
class Backend:
    #: The clock of ``anyio.current_time()`` (and of cancel scope deadlines).
    clock: Callable[[], float]
    #: ``anyio.lowlevel.checkpoint()``: let other tasks run, and honour cancellation.
    checkpoint: Callable[[], Awaitable[None]]
    #: A new :class:`Alarm` (one per stream).
    alarm: Callable[[], Alarm]
    #: The clock itself, bound to the running loop: for a stream to keep and call often.
    bound_clock: Callable[[], Callable[[], float]]


def _asyncio_clock() -> float:
    return asyncio.get_running_loop().time()


def _asyncio_bound_clock() -> Callable[[], float]:
    return asyncio.get_running_loop().time


# Shared by every stream: nothing is allocated per stream.
_ASYNCIO = Backend(
    _asyncio_clock,
    functools.partial(asyncio.sleep, 0),
    _TaskAlarm,
    _asyncio_bound_clock,
)
_TRIO: list[Backend] = []


def current_backend() -> Backend:
    """The backend of the running loop: trio, else asyncio."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        if not _TRIO:
            _TRIO.append(
                Backend(
                    trio.current_time,
                    trio.lowlevel.checkpoint,
                    _ScopeAlarm,
                    lambda: trio.current_time,
                )
            )
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
            if sent is None:
                # What a plain ``await`` sends next (asyncio always does): from here on
                # ``yield from`` forwards everything itself, at a third of the cost.
                return (yield from iterator)
            try:
                signal = iterator.send(sent)
            except StopIteration as stop:
                return cast("T", stop.value)

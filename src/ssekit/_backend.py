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
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.abc

__all__ = ["Alarm", "Backend", "Child", "Scope", "await_noting_suspension", "current_backend"]

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


class Scope(Protocol):
    """A cancel scope for the producer's task: the part of :class:`anyio.CancelScope` it uses."""

    @property
    def cancel_called(self) -> bool: ...
    @property
    def cancelled_caught(self) -> bool: ...
    @property
    def deadline(self) -> float: ...
    @deadline.setter
    def deadline(self, value: float) -> None: ...
    def cancel(self) -> None: ...
    def __enter__(self) -> Scope: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> bool | None: ...


class Child(Protocol):
    """The producer's task, started by a stream that must ``join`` it."""

    def cancel(self) -> None:
        """Ask it to end (its scope is cancelled): what it does next is its own cleanup."""
        ...

    async def join(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        """Wait until it has ended, even if the caller is cancelled meanwhile (as ``__aexit__``)."""
        ...


class _TaskScope:
    """asyncio: a cancel scope for one task, as light as ``asyncio.timeout``.

    Unlike :class:`anyio.CancelScope` it is not entered in anyio's scope tree
    (which saves ~0.6 KiB per stream) and cancels by ``Task.cancel()``, undone
    with ``uncancel()`` on the way out. It never cancels the task while that
    task is running — such a cancellation could land after the scope, in the
    producer's cleanup — so the stream's own code also checks ``cancel_called``;
    nor while the task is about to resume with a result (as anyio, it retries
    once the task waits again).
    """

    __slots__ = (
        "_active",
        "_cancelling",
        "_deadline",
        "_requests",
        "_task",
        "_timer",
        "cancel_called",
        "cancelled_caught",
    )

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = math.inf
        self._active = False
        self._cancelling = 0
        self._requests = 0  # Task.cancel() calls made, to undo on exit
        self.cancel_called = False
        self.cancelled_caught = False

    def __enter__(self) -> _TaskScope:
        task = asyncio.current_task()
        assert task is not None, "a scope is entered in a task"
        self._task, self._cancelling, self._active = task, task.cancelling(), True
        self.deadline = self._deadline  # arm a deadline set before entering
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> bool | None:
        self._active = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = self._task
        if task is None or not self._requests:
            return None
        remaining = 0
        for _ in range(self._requests):
            remaining = task.uncancel()
        ours = remaining <= self._cancelling  # no other cancellation is pending
        if ours and exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self.cancelled_caught = True
            return True
        return None

    @property
    def deadline(self) -> float:
        return self._deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._deadline = value
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._active and value != math.inf:
            self._timer = asyncio.get_running_loop().call_at(value, self.cancel)

    def cancel(self) -> None:
        self.cancel_called = True
        task = self._task
        if not self._active or task is None or task is asyncio.current_task():
            return
        waiter = task._fut_waiter  # type: ignore[attr-defined]
        if waiter is not None and waiter.done():
            task.get_loop().call_soon(self._cancel_again)
            return
        self._requests += 1
        task.cancel()

    def _cancel_again(self) -> None:
        if self._active:
            self.cancel()


class _TaskChild:
    """asyncio: the producer in a plain task, joined as ``asyncio.TaskGroup`` would.

    A plain task instead of an anyio task group saves ~2.5 KiB per stream; it is
    still owned: the stream cancels it through ``scope`` and waits for its end.
    """

    __slots__ = ("_scope", "_task")

    def __init__(self, task: asyncio.Task[None], scope: Scope) -> None:
        self._task = task
        self._scope = scope

    def cancel(self) -> None:
        self._scope.cancel()

    async def join(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        task = self._task
        loop = task.get_loop()
        cancelled: asyncio.CancelledError | None = None
        recancel_at = loop.time() + _RECANCEL_SECONDS
        while not task.done():
            try:
                await asyncio.wait((task,), timeout=_RECANCEL_SECONDS)
            except asyncio.CancelledError as cancellation:
                cancelled = cancellation  # the owner is being cancelled: wait, then go
            if not task.done() and loop.time() >= recancel_at:
                # A producer that went on after its cancellation (anyio would cancel it at
                # every await; waiting this long first spares a shielded cleanup).
                self._scope.cancel()
                recancel_at = loop.time() + _RECANCEL_SECONDS
        if cancelled is not None:
            raise cancelled
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # a BaseException: the producer's
        return None


class _GroupChild:
    """trio: the producer in an anyio task group (trio's scopes are cheap)."""

    __slots__ = ("_group", "_scope")

    def __init__(self, group: anyio.abc.TaskGroup, scope: Scope) -> None:
        self._group = group
        self._scope = scope

    def cancel(self) -> None:
        self._scope.cancel()

    async def join(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        self._group.cancel_scope.cancel()
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return await self._group.__aexit__(exc_type, exc, tb)
        # The producer's task raises nothing: let the body's own exception (a client
        # gone, say) propagate as itself rather than wrapped in an exception group.
        await self._group.__aexit__(None, None, None)
        return None


#: How often a producer that ignores its cancellation is cancelled again: longer than the
#: shielded close of a bot's stream (5 s, :func:`ssekit._sse_stream.aclose_quietly`).
_RECANCEL_SECONDS = 10.0


async def _start_task(produce: Callable[[], Coroutine[Any, Any, None]], scope: Scope) -> Child:
    task = asyncio.get_running_loop().create_task(produce())
    return _TaskChild(task, scope)


async def _start_in_group(produce: Callable[[], Coroutine[Any, Any, None]], scope: Scope) -> Child:
    group = anyio.create_task_group()
    await group.__aenter__()
    group.start_soon(produce)
    return _GroupChild(group, scope)


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
    #: A new cancel scope for the producer's task.
    scope: Callable[[], Scope]
    #: Start the producer's task (cancelled through that scope).
    start: Callable[[Callable[[], Coroutine[Any, Any, None]], Scope], Awaitable[Child]]


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
    _TaskScope,
    _start_task,
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
                    anyio.CancelScope,
                    _start_in_group,
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

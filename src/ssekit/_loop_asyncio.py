"""The engine's primitives on asyncio, built from asyncio's own (the fast path).

Why not anyio's, which work here too (`SSEKIT_ASYNCIO_FAST_PATH=0` selects them):

- **Waking a task.** A stream's idle task is woken once per gathered batch or
  heartbeat, and a host that pulls chunks once per token. Cancelling an
  `anyio.CancelScope` to do it cost ~15-20 µs per wake-up; `Task.cancel()` +
  `uncancel()`, as `asyncio.timeout()` does, ~3.5 µs; a plain future (nothing
  to interrupt) less still.
- **The producer's task and scope.** An anyio task group and scope per stream
  cost ~3 KiB of memory (an in-process stream went from 13.9 to 9.8 KB without
  them) — a third of what an idle stream costs in all.

Both read `Task._fut_waiter`, asyncio's private "what this task waits on", for
one reason: a task whose awaited future already holds a result (a request
message, say) must not be cancelled before it resumes, or that result is lost.
anyio reads the same attribute for the same reason.
"""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any

from ._loops import Child, Loop, Produce, Scope

__all__ = ["LOOP"]

_RUNG = "rung"
_EXPIRED = "expired"
#: A producer that carries on after its cancellation is cancelled again after this long:
#: longer than the shielded close of a bot's stream (5 s, `aclose_quietly`).
_RECANCEL_SECONDS = 10.0


def _resuming(task: asyncio.Task[Any]) -> bool:
    """The task is about to resume with a result (cancelling it now would lose that)."""
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is not None and bool(waiter.done())


class _TaskAlarm:
    """The waiting task is cancelled and uncancelled, as `asyncio.timeout` does.

    A cancellation that is not the alarm's own (an enclosing scope's, the
    server's) is counted by `Task.cancelling()` and always propagates. With no
    work to interrupt, the wait is a plain future.
    """

    __slots__ = (
        "_cause",
        "_deadline",
        "_future",
        "_generation",
        "_own_deadline",
        "_ringable",
        "_task",
        "_timer",
    )

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._future: asyncio.Future[bool] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = self._own_deadline = math.inf
        self._ringable = False
        self._cause: str | None = None
        self._generation = 0

    async def wait(self, work: Any, deadline: float, *, ringable: bool = True) -> bool:
        if work is None:
            return await self._sleep(deadline)
        task = asyncio.current_task()
        assert task is not None, "an alarm waits in a task"
        self._task, self._ringable, self._cause = task, ringable, None
        self._generation += 1
        self._own_deadline = deadline
        self._arm(deadline, self._interrupt, self._generation, _EXPIRED)
        cancelling = task.cancelling()
        try:
            await work()
        except asyncio.CancelledError:
            if self._cause is None or task.uncancel() > cancelling:
                raise
            return self._cause == _EXPIRED
        finally:
            self._task = None
            self._arm(math.inf)
        if self._cause is not None:
            task.uncancel()  # work() swallowed the alarm's cancellation
        return False

    async def _sleep(self, deadline: float) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._future = future
        self._own_deadline = deadline
        self._arm(deadline, _settle, future, True)
        try:
            return await future
        finally:
            self._future = None
            self._arm(math.inf)

    def _arm(self, deadline: float, *callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = deadline
        if deadline != math.inf:
            self._timer = asyncio.get_running_loop().call_at(deadline, *callback)

    def ring(self) -> None:
        if self._future is not None:
            _settle(self._future, False)
        elif self._task is not None and self._ringable:
            self._interrupt(self._generation, _RUNG)

    def wake_by(self, deadline: float | None) -> None:
        if deadline is None:
            deadline = self._own_deadline
            expired = True
        elif deadline >= self._deadline:
            return
        else:
            expired = False
        if self._future is not None:
            self._arm(deadline, _settle, self._future, expired)
        elif self._task is not None and self._ringable:
            self._arm(deadline, self._interrupt, self._generation, _EXPIRED if expired else _RUNG)

    def _interrupt(self, generation: int, cause: str) -> None:
        task = self._task
        if task is None or generation != self._generation or self._cause is not None:
            return  # that wait is over, or already interrupted
        if _resuming(task):
            # Interrupt it once it waits again, if it still does.
            task.get_loop().call_soon(self._interrupt, generation, cause)
            return
        self._cause = cause
        task.cancel()


def _settle(future: asyncio.Future[bool], expired: bool) -> None:
    if not future.done():
        future.set_result(expired)


class _TaskScope:
    """A cancel scope for one task, as light as `asyncio.timeout`.

    Unlike `anyio.CancelScope` it is not entered in anyio's scope tree, so it
    cannot see anyio's shields: it cancels once (never while its task runs, nor
    while it is resuming with a result), and again only after
    `_RECANCEL_SECONDS`, so that a shielded close of the model's stream in the
    producer's cleanup is never cut short. The engine also checks
    `cancel_called` at every item.
    """

    __slots__ = (
        "_active",
        "_cancelling",
        "_deadline",
        "_recancel",
        "_requests",
        "_task",
        "_timer",
        "cancel_called",
        "cancelled_caught",
    )

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._recancel: asyncio.TimerHandle | None = None
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
        self._arm(math.inf)
        if self._recancel is not None:
            self._recancel.cancel()
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
        self._arm(value if self._active else math.inf)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if at != math.inf:
            self._timer = asyncio.get_running_loop().call_at(at, self.cancel)

    def cancel(self) -> None:
        if not self.cancel_called:  # once: a second delivery could cut a shielded cleanup
            self.cancel_called = True
            self._deliver()

    def _deliver(self) -> None:
        task = self._task
        if not self._active or task is None or task is asyncio.current_task():
            return
        if _resuming(task):
            task.get_loop().call_soon(self._deliver)
            return
        self._requests += 1
        task.cancel()
        if self._recancel is None:
            self._recancel = task.get_loop().call_later(_RECANCEL_SECONDS, self._cancel_again)

    def _cancel_again(self) -> None:
        self._recancel = None
        self._deliver()


class _TaskChild(Child):
    """The producer in a plain task, joined as `asyncio.TaskGroup` would."""

    __slots__ = ("_task",)

    def __init__(self, task: asyncio.Task[None], scope: Scope) -> None:
        super().__init__(scope)
        self._task = task

    async def join(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        task = self._task
        cancelled: asyncio.CancelledError | None = None
        while not task.done():
            try:
                await asyncio.wait((task,))
            except asyncio.CancelledError as cancellation:
                cancelled = cancellation  # the owner is being cancelled: wait, then go
        if cancelled is not None:
            raise cancelled
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # a BaseException: the producer's
        return None


async def _start(produce: Produce, scope: Scope) -> Child:
    return _TaskChild(asyncio.get_running_loop().create_task(produce()), scope)


def _clock() -> Any:
    return asyncio.get_running_loop().time


LOOP = Loop(
    clock=_clock,
    checkpoint=functools.partial(asyncio.sleep, 0),
    alarm=_TaskAlarm,
    scope=_TaskScope,
    start=_start,
)

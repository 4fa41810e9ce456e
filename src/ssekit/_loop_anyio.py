"""The engine's primitives from anyio alone: what trio runs, and asyncio without the fast path.

Everything here is anyio's structured concurrency as documented: the producer
runs in a task group, its scope is an `anyio.CancelScope` (level-triggered and
aware of shields), and a wake-up cancels a scope around the idle wait.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from ._loops import Child, Loop, Produce, Scope

__all__ = ["LOOP"]


class _ScopeAlarm:
    """The wait runs in an `anyio.CancelScope`; a ring cancels it."""

    __slots__ = ("_own_deadline", "_rung", "_scope")

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None
        self._rung = False
        self._own_deadline = 0.0

    async def wait(self, work: Any, deadline: float, *, ringable: bool = True) -> bool:
        self._rung = False
        self._own_deadline = deadline
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

    def wake_by(self, deadline: float | None) -> None:
        if self._scope is None:
            return
        if deadline is None:
            self._rung = False
            self._scope.deadline = self._own_deadline
        elif deadline < self._scope.deadline:
            self._rung = True  # as a ring: the wait's own deadline has not passed
            self._scope.deadline = deadline


class _GroupChild(Child):
    """The producer in an anyio task group, joined by leaving the group."""

    __slots__ = ("_group",)

    def __init__(self, group: anyio.abc.TaskGroup, scope: Scope) -> None:
        super().__init__(scope)
        self._group = group

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


async def _start(produce: Produce, scope: Scope) -> Child:
    group = anyio.create_task_group()
    await group.__aenter__()
    group.start_soon(produce)
    return _GroupChild(group, scope)


def _clock() -> Any:
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return trio.current_time  # what anyio.current_time() calls, without looking it up
    return anyio.current_time


LOOP = Loop(
    clock=_clock,
    checkpoint=anyio.lowlevel.checkpoint,
    alarm=_ScopeAlarm,
    scope=anyio.CancelScope,
    start=_start,
)

"""What the engine needs from the running event loop, and which implementation provides it.

The engine needs a clock, a checkpoint, an [Alarm][ssekit._loops.Alarm] (one task
waits until another has work for it), a cancel scope for the producer's task and
a way to start and join that task. Two implementations:

- `_loop_asyncio`: asyncio's own primitives, measured to matter on the hot path
  (see that module's docstring for the figures);
- `_loop_anyio`: anyio's portable primitives; used under trio, and under asyncio
  too when `SSEKIT_ASYNCIO_FAST_PATH=0` is set (to compare, or to rule the fast
  path out when chasing a bug).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Alarm", "Child", "Loop", "Scope", "current_loop"]


class Alarm(Protocol):
    """Run `work` until it returns, a deadline passes, or another task rings."""

    async def wait(
        self,
        work: Callable[[], Awaitable[object]] | None,
        deadline: float,
        *,
        ringable: bool = True,
    ) -> bool:
        """Await `work()` (`None`: just wait); True if the deadline cut it short.

        Only a `ringable` wait is cut short by `ring()` (it then returns False);
        at most one wait runs at a time. A cancellation from outside always
        propagates.
        """
        ...

    def ring(self) -> None:
        """Cut the current ringable wait short (nothing if there is none)."""
        ...

    def wake_by(self, deadline: float | None) -> None:
        """End the current ringable wait by `deadline` at the latest, as a ring would.

        Cheaper than a ring when the waiter need not wake yet: nothing runs until
        then. `None` takes it back: the wait ends at its own deadline again.
        """
        ...


class Scope(Protocol):
    """The producer's cancel scope: the part of `anyio.CancelScope` the engine uses."""

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


class Child:
    """The producer's task, which the stream that started it must join."""

    __slots__ = ("_scope",)

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def cancel(self) -> None:
        """Ask it to end (its scope is cancelled); what it does next is its own cleanup."""
        self._scope.cancel()

    async def join(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        """Wait until it has ended, even if the caller is cancelled meanwhile (as `__aexit__`)."""
        raise NotImplementedError


Produce = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Loop:
    """One event loop's primitives, shared by every stream on it (nothing per stream)."""

    #: The loop's clock (that of cancel scope deadlines), bound: for a stream to keep.
    clock: Callable[[], Callable[[], float]]
    #: Let other tasks run, and honour cancellation.
    checkpoint: Callable[[], Awaitable[None]]
    alarm: Callable[[], Alarm]
    scope: Callable[[], Scope]
    #: Start the producer's task, cancelled through its scope.
    start: Callable[[Produce, Scope], Awaitable[Child]]


_LOOPS: dict[str, Loop] = {}


def current_loop() -> Loop:
    """The primitives of the running loop: trio's, else asyncio's (fast path unless disabled)."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        name = "trio"
    elif os.environ.get("SSEKIT_ASYNCIO_FAST_PATH", "1") == "0":
        name = "anyio"
    else:
        name = "asyncio"
    loop = _LOOPS.get(name)
    if loop is None:
        if name == "asyncio":
            from ._loop_asyncio import LOOP
        else:
            from ._loop_anyio import LOOP
        loop = _LOOPS[name] = LOOP
    return loop

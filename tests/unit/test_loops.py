"""The loop primitives the engine relies on (`ssekit._loops` and its two implementations).

**The alarm** that wakes a stream's idle task must be cut short by a ring or a
deadline and nothing else: a cancellation that is not the alarm's own always gets
through, and a message the waiting task was about to receive is never lost to a
ring. **The producer's task and scope**: a scope swallows its own cancellation
and no other, never leaves a cancellation pending behind it, and `join` returns
only once the task has ended — even while its owner is being cancelled, and even
if the producer ignores its first cancellation. Every test runs on each
implementation: asyncio's fast path, anyio's on asyncio, and anyio's on trio.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ssekit._loops import Alarm, Scope, current_loop
from tests.support.loops import LOOPS, run_on

BACKENDS = LOOPS


def run(backend: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    return run_on(backend, scenario)


#: Waiting with nothing to do (a plain sleep) and waiting in work (``receive()``, say).
IDLE_WORK = pytest.mark.parametrize("work", [None, anyio.sleep_forever], ids=["no-work", "work"])


Work = Callable[[], Awaitable[object]] | None


@IDLE_WORK
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ring_ends_the_wait_and_says_it_was_not_the_deadline(backend: str, work: Work) -> None:
    async def scenario() -> tuple[bool, float]:
        alarm = current_loop().alarm()
        started = anyio.current_time()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ring_later, alarm, 0.05)
            expired = await alarm.wait(work, math.inf)
        return expired, anyio.current_time() - started

    expired, waited = run(backend, scenario)
    assert expired is False
    assert 0.04 <= waited < 5


@IDLE_WORK
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_deadline_ends_the_wait_and_says_so(backend: str, work: Work) -> None:
    async def scenario() -> tuple[bool, float]:
        alarm = current_loop().alarm()
        started = anyio.current_time()
        expired = await alarm.wait(work, started + 0.05)
        return expired, anyio.current_time() - started

    expired, waited = run(backend, scenario)
    assert expired is True
    assert 0.04 <= waited < 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_work_that_returns_first_is_neither(backend: str) -> None:
    async def scenario() -> tuple[bool, bool]:
        alarm = current_loop().alarm()
        expired = await alarm.wait(anyio.lowlevel.checkpoint, anyio.current_time() + 5)
        # The alarm is spent: a ring now must not hit the next, unrelated await.
        alarm.ring()
        with anyio.move_on_after(0.05) as later:
            await anyio.sleep(1)
        return expired, later.cancelled_caught

    expired, slept_on = run(backend, scenario)
    assert expired is False
    assert slept_on is True  # the sleep ran to the move_on_after, not cut by the stale ring


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_wait_that_is_not_ringable_ignores_rings(backend: str) -> None:
    async def scenario() -> tuple[bool, float]:
        alarm = current_loop().alarm()
        started = anyio.current_time()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ring_later, alarm, 0.01)
            expired = await alarm.wait(lambda: anyio.sleep(0.1), started + 5, ringable=False)
        return expired, anyio.current_time() - started

    expired, waited = run(backend, scenario)
    assert expired is False
    assert waited >= 0.09  # the write it guards was not cut by the ring


@IDLE_WORK
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_outer_cancellation_gets_through_even_when_rung_at_once(
    backend: str, work: Work
) -> None:
    async def scenario() -> tuple[bool, bool]:
        alarm = current_loop().alarm()
        after_wait = False
        with anyio.CancelScope() as outer:

            async def cancel_both() -> None:
                await anyio.sleep(0.02)
                outer.cancel()
                alarm.ring()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(cancel_both)
                await alarm.wait(work, math.inf)
                after_wait = True  # must not be reached: the outer scope was cancelled
                await anyio.sleep_forever()
        return outer.cancelled_caught, after_wait

    caught, after_wait = run(backend, scenario)
    assert caught is True
    assert after_wait is False


@IDLE_WORK
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_outer_deadline_gets_through_an_alarm_with_a_later_one(backend: str, work: Work) -> None:
    async def scenario() -> bool:
        alarm = current_loop().alarm()
        with anyio.move_on_after(0.05) as outer:
            await alarm.wait(work, anyio.current_time() + 10)
            await anyio.sleep(10)
        return outer.cancelled_caught

    assert run(backend, scenario) is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ring_as_a_message_arrives_does_not_lose_the_message(backend: str) -> None:
    """The idle task listens for ``http.disconnect``: a ring must not swallow it."""

    async def scenario() -> list[str]:
        alarm = current_loop().alarm()
        send, receive = anyio.create_memory_object_stream[str](math.inf)
        got: list[str] = []

        async def listen() -> None:
            while len(got) < 200:
                got.append(await receive.receive())

        async def deliver_and_ring() -> None:
            for i in range(200):
                await anyio.lowlevel.checkpoint()
                # The message makes the listener ready; the ring lands in the same step.
                send.send_nowait(f"m{i}")
                alarm.ring()

        with anyio.fail_after(10):  # a lost message leaves the listener waiting
            async with send, receive, anyio.create_task_group() as tasks:
                tasks.start_soon(deliver_and_ring)
                while len(got) < 200:
                    await alarm.wait(listen, math.inf)
        # Each message was received exactly once, in order: none lost to a ring.
        return got

    assert run(backend, scenario) == [f"m{i}" for i in range(200)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_rings_and_waits_leave_no_cancellation_behind(backend: str) -> None:
    async def scenario() -> bool:
        alarm = current_loop().alarm()
        async with anyio.create_task_group() as tasks:

            async def ringer() -> None:
                for _ in range(500):
                    await anyio.lowlevel.checkpoint()
                    alarm.ring()

            tasks.start_soon(ringer)
            for _ in range(500):
                await alarm.wait(lambda: anyio.sleep(0.001), math.inf)
        # A cancellation left pending would cut this sleep short.
        with anyio.move_on_after(0.05) as later:
            await anyio.sleep(1)
        return later.cancelled_caught

    assert run(backend, scenario) is True


def test_a_cancellation_swallowed_by_the_work_is_not_left_pending() -> None:
    """Some servers' ``receive`` swallows a cancellation (Quart's ``wait_for`` on 3.11 does)."""

    async def scenario() -> bool:
        alarm = current_loop().alarm()

        async def swallowing() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ring_later, alarm, 0.01)
            await alarm.wait(swallowing, math.inf)
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling() == 0  # else asyncio.timeout() and TaskGroup misjudge later

    assert run("asyncio", scenario) is True


async def ring_later(alarm: Alarm, delay: float) -> None:
    await anyio.sleep(delay)
    alarm.ring()


async def start(body: Callable[[Scope], Awaitable[None]]) -> tuple[Any, Scope]:
    backend = current_loop()
    scope = backend.scope()

    async def produce() -> None:
        with scope:
            await body(scope)

    return await backend.start(produce, scope), scope


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_ends_the_task_and_the_scope_catches_only_that(backend: str) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        after_scope = anyio.Event()
        scope = current_loop().scope()

        async def produce() -> None:
            with scope:
                await anyio.sleep_forever()
            after_scope.set()
            # Nothing left pending: this sleep runs its course.
            with anyio.move_on_after(0.05) as later:
                await anyio.sleep(1)
            assert later.cancelled_caught

        child = await current_loop().start(produce, scope)
        await anyio.sleep(0.01)
        child.cancel()
        await anyio.sleep(0.2)  # the task ends on its own, before join is asked
        await child.join(None, None, None)
        return scope.cancel_called, scope.cancelled_caught, after_scope.is_set()

    assert run(backend, scenario) == (True, True, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deadline_cancels_the_body(backend: str) -> None:
    async def scenario() -> tuple[bool, float]:
        started = anyio.current_time()

        async def body(scope: Scope) -> None:
            scope.deadline = anyio.current_time() + 0.05
            await anyio.sleep(5)

        child, scope = await start(body)
        with anyio.fail_after(5):
            while not scope.cancelled_caught:
                await anyio.sleep(0.01)
        await child.join(None, None, None)
        return scope.cancelled_caught, anyio.current_time() - started

    caught, took = run(backend, scenario)
    assert caught is True
    assert took < 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deadline_lifted_in_time_cancels_nothing(backend: str) -> None:
    async def scenario() -> bool:
        async def body(scope: Scope) -> None:
            scope.deadline = anyio.current_time() + 0.05
            await anyio.sleep(0.01)
            scope.deadline = math.inf  # the write came back: no timeout
            await anyio.sleep(0.1)

        child, scope = await start(body)
        await anyio.sleep(0.2)
        await child.join(None, None, None)
        return scope.cancelled_caught

    assert run(backend, scenario) is False


def test_an_outer_cancellation_passes_through_the_scope() -> None:
    """asyncio: the producer's task cancelled by someone else (not its scope) stays cancelled."""
    import asyncio

    async def scenario() -> tuple[bool, bool]:
        scope = current_loop().scope()
        reached_after = False

        async def produce() -> None:
            nonlocal reached_after
            with scope:
                await asyncio.sleep(5)
            reached_after = True

        task = asyncio.get_running_loop().create_task(produce())
        await asyncio.sleep(0.01)
        task.cancel()  # not the scope's
        scope.cancel()  # and the scope's, at once
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled(), reached_after

    assert run("asyncio", scenario) == (True, False)


def test_a_cancel_from_the_task_itself_is_only_noted() -> None:
    """asyncio: a stream stopping its own producer must not cancel the producer's cleanup."""

    async def scenario() -> tuple[bool, bool]:
        cleanup_done = False

        async def body(scope: Scope) -> None:
            scope.cancel()  # from inside: noted, not delivered
            assert scope.cancel_called

        backend = current_loop()
        scope = backend.scope()

        async def produce() -> None:
            nonlocal cleanup_done
            with scope:
                await body(scope)
            await anyio.sleep(0.02)  # the cleanup awaits: it must not be cancelled
            cleanup_done = True

        child = await backend.start(produce, scope)
        await child.join(None, None, None)
        return scope.cancelled_caught, cleanup_done

    assert run("asyncio", scenario) == (False, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_join_waits_for_the_end_even_while_its_owner_is_cancelled(backend: str) -> None:
    async def scenario() -> tuple[bool, bool]:
        finished = anyio.Event()

        async def body(scope: Scope) -> None:
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.1)  # a slow cleanup
                finished.set()

        with anyio.CancelScope() as owner:
            child, _ = await start(body)
            await anyio.sleep(0.01)
            owner.cancel()
            child.cancel()
            await child.join(None, None, None)
        return finished.is_set(), owner.cancelled_caught

    assert run(backend, scenario) == (True, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_join_outlasts_a_producer_that_ignores_its_first_cancellation(backend: str) -> None:
    async def scenario() -> int:
        ignored = 0

        async def body(scope: Scope) -> None:
            nonlocal ignored
            while True:
                try:
                    await anyio.sleep(5)
                except anyio.get_cancelled_exc_class():
                    ignored += 1
                    if ignored >= 2:
                        raise

        child, _ = await start(body)
        await anyio.sleep(0.01)
        child.cancel()
        await child.join(None, None, None)  # asyncio cancels again after 10 s
        return ignored

    assert run(backend, scenario) >= 2


async def act_later(delay: float, action: Callable[[], object]) -> None:
    await anyio.sleep(delay)
    action()

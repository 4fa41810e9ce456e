"""The alarm that wakes a stream's idle task: cut short by a ring or a deadline, never more.

Each backend's alarm (asyncio: cancel + uncancel; trio: a cancel scope) must
keep the same contract, because the engine relies on it for every hand-over
and every send timeout: a ring or a deadline ends the wait and nothing else;
a cancellation that is not the alarm's own always gets through; a message the
waiting task was about to receive is never lost to a ring.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ssekit._backend import Alarm, current_backend

BACKENDS = ["asyncio", "trio"]
#: Waiting with nothing to do (a plain sleep) and waiting in work (``receive()``, say).
IDLE_WORK = pytest.mark.parametrize("work", [None, anyio.sleep_forever], ids=["no-work", "work"])


Work = Callable[[], Awaitable[object]] | None


def run(backend: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(scenario, backend=backend)


@IDLE_WORK
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ring_ends_the_wait_and_says_it_was_not_the_deadline(backend: str, work: Work) -> None:
    async def scenario() -> tuple[bool, float]:
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()
        started = anyio.current_time()
        expired = await alarm.wait(work, started + 0.05)
        return expired, anyio.current_time() - started

    expired, waited = run(backend, scenario)
    assert expired is True
    assert 0.04 <= waited < 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_work_that_returns_first_is_neither(backend: str) -> None:
    async def scenario() -> tuple[bool, bool]:
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()
        with anyio.move_on_after(0.05) as outer:
            await alarm.wait(work, anyio.current_time() + 10)
            await anyio.sleep(10)
        return outer.cancelled_caught

    assert run(backend, scenario) is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ring_as_a_message_arrives_does_not_lose_the_message(backend: str) -> None:
    """The idle task listens for ``http.disconnect``: a ring must not swallow it."""

    async def scenario() -> list[str]:
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()
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
        alarm = current_backend().alarm()

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

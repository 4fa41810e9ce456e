"""The producer's task and its cancel scope, as each backend provides them.

Under asyncio they are a plain task and a scope built like ``asyncio.timeout``
(lighter than anyio's); under trio an anyio task group and cancel scope. The
engine relies on the same contract from both: a scope swallows its own
cancellation and no other, never leaves a cancellation pending behind it, and
``join`` returns only once the task has ended — even while its owner is being
cancelled, and even if the producer ignores its first cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ssekit._backend import Scope, current_backend

BACKENDS = ["asyncio", "trio"]


def run(backend: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(scenario, backend=backend)


async def start(body: Callable[[Scope], Awaitable[None]]) -> tuple[Any, Scope]:
    backend = current_backend()
    scope = backend.scope()

    async def produce() -> None:
        with scope:
            await body(scope)

    return await backend.start(produce, scope), scope


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_ends_the_task_and_the_scope_catches_only_that(backend: str) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        after_scope = anyio.Event()
        scope = current_backend().scope()

        async def produce() -> None:
            with scope:
                await anyio.sleep_forever()
            after_scope.set()
            # Nothing left pending: this sleep runs its course.
            with anyio.move_on_after(0.05) as later:
                await anyio.sleep(1)
            assert later.cancelled_caught

        child = await current_backend().start(produce, scope)
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
        scope = current_backend().scope()
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

        backend = current_backend()
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


async def ring_later(delay: float, action: Callable[[], object]) -> None:
    await anyio.sleep(delay)
    action()

"""Run a scenario on each event loop the engine supports."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

#: The engine's loop primitives: asyncio's fast path, anyio's on asyncio, anyio's on trio.
LOOPS = ["asyncio", "asyncio-portable", "trio"]
FAST_PATH = "SSEKIT_ASYNCIO_FAST_PATH"


def run_on(loop: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run `scenario` on `loop`; "asyncio-portable" turns asyncio's fast path off."""
    portable = loop == "asyncio-portable"
    previous = os.environ.pop(FAST_PATH, None)
    if portable:
        os.environ[FAST_PATH] = "0"
    try:
        return anyio.run(scenario, backend="asyncio" if portable else loop)
    finally:
        os.environ.pop(FAST_PATH, None)
        if previous is not None:
            os.environ[FAST_PATH] = previous

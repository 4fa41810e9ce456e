"""Reading event streams from a real server, with bounded waits."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx

#: Generous bound for anything a test waits for (a heartbeat, a producer's finally).
DEADLINE = 5.0
#: The exact bytes of the ``finite`` producer's events ``tok0`` .. ``tok{n-1}``.
EXPECTED_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def tokens(*indexes: int) -> bytes:
    return b"".join(b"event: message\ndata: tok%d\n\n" % i for i in indexes)


def new_key() -> str:
    return uuid.uuid4().hex


def client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(DEADLINE))


def read_until(chunks: Iterator[bytes], marker: bytes, *, seen: bytes = b"") -> bytes:
    """Everything read until ``marker`` has arrived; fails past :data:`DEADLINE`."""
    data = seen
    deadline = time.monotonic() + DEADLINE
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} did not arrive; got {data!r}")
        data += next(chunks)
    return data


def wait_for(event: threading.Event, what: str) -> None:
    """Poll a flag the server thread sets, with a generous deadline."""
    if not event.wait(DEADLINE):
        raise AssertionError(f"{what} did not happen within {DEADLINE}s")

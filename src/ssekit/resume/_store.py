"""What `ResumableStreams` asks of a store, and the words a stream can end with.

Two stores implement it: `MemoryStore` (one process, asyncio or trio) and
`RedisStore` (any number of workers, asyncio). A store keeps frames (bytes,
already encoded with their ids) and answers four questions: create a stream
and take its frames (`create` gives the producer an `Owner`), where does a
stream stand (`probe`), what follows a position (`read`), and stop it (`stop`).
It also remembers which stream is a chat's latest answer (`link`, `linked`:
the AI SDK resumes by chat id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._frames import Frames

__all__ = [
    "ABANDONED",
    "INTERRUPTED",
    "LOST",
    "SHUTDOWN",
    "STOPPED",
    "STORE_UNAVAILABLE",
    "TOO_LONG",
    "Cancel",
    "Owner",
    "Probe",
    "Store",
    "check_events_cap",
]

#: The data of the error event that ends a stream, by why it ended.
STOPPED = "stopped"  # an explicit stop (DELETE, or `ResumableStreams.stop`)
ABANDONED = "abandoned"  # nobody read it for `orphan_timeout` seconds
INTERRUPTED = "interrupted"  # its producer's worker died (its lease ran out)
SHUTDOWN = "shutdown"  # the server shut down before the answer was finished
TOO_LONG = "too_long"  # it reached `max_events`
#: An error event *without an id* ending one connection: the store cannot be read.
STORE_UNAVAILABLE = "store_unavailable"
#: Not an ending: another worker already ended the stream; the producer just stops.
LOST = "lost"

#: How a store tells the stream's producer to stop, and why.
Cancel = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Probe:
    """Where a stream stands: its last seq written, and its final seq once it has ended.

    A store may read the first frames after the position asked for with the same
    round trip: `head` is then (those frames joined, the seq of the last, ended).
    """

    last: int
    final: int | None
    head: tuple[bytes, int, bool] | None = None


class Owner(Protocol):
    """The store side of one stream, held by the task producing it."""

    async def push(self, frame: bytes) -> None:
        """Append the next frame (it may wait while the store falls behind)."""
        ...

    async def finish(self, frame: bytes | None) -> None:
        """Append the last frame (`None`: the last pushed was the last) and end the stream."""
        ...

    def reader_seen_at(self) -> float:
        """When a reader was last attached (`time.monotonic()`; now if one is)."""
        ...


class Store(Protocol):
    """A place for streams' frames; see the module docstring."""

    max_events: int
    #: Whether other processes can serve this store's streams. A reader then leaves
    #: quietly at shutdown (its client resumes elsewhere); when the streams die with
    #: this process, it says the server is shutting down instead.
    shared: bool

    async def _open(self, tasks: TaskGroup, frames: Frames) -> None: ...
    async def _close(self) -> None: ...

    async def create(self, sid: str, handshake: bytes, cancel: Cancel) -> Owner:
        """A new stream whose first frame is `handshake`; `StoreUnavailable` if not now."""
        ...

    async def probe(self, sid: str, frames: Frames, after: int) -> Probe | None:
        """Where `sid` stands, or `None` if unknown or expired; ends it if its producer died.

        `after` is where the reader will start (the store may read from there already).
        """
        ...

    def read(self, sid: str, after: int, probe: Probe) -> AsyncIterator[bytes]:
        """The frames after seq `after`, joined in bounded chunks, catch-up then live.

        Nothing is held until it is iterated, and closing it releases everything.
        """
        ...

    async def stop(self, sid: str, frames: Frames) -> Literal["stopping", "finished"] | None:
        """Stop `sid`: `stopping`, `finished` (it had ended), or `None` (unknown)."""
        ...

    async def link(self, chat: str, sid: str) -> None:
        """Remember `sid` as chat `chat`'s latest answer (for as long as the stream lives)."""
        ...

    async def linked(self, chat: str) -> str | None:
        """The stream id of chat `chat`'s latest answer, if one is remembered."""
        ...


def check_events_cap(max_events: object) -> int:
    """`max_events`: at least the handshake, one event and the ending."""
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise TypeError(f"max_events must be an int, not {type(max_events).__name__}")
    if max_events < 3:
        raise ValueError(
            f"max_events must be >= 3 (handshake, an event, the end), not {max_events}"
        )
    return max_events

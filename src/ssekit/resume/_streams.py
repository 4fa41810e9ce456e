"""`ResumableStreams`: answers that outlive their connection, started, resumed and stopped.

It owns every stream's producer (in its task group: enter it with `async with`,
which `chat_app` does in its lifespan), so a client that leaves only ends its
reader; the answer goes on, ready to be resumed, until it ends, is stopped, or
has had no reader for `orphan_timeout` seconds. Each request about a stream gets
a [StreamAnswer][ssekit.resume.StreamAnswer] that any framework can serve.
"""

from __future__ import annotations

import math
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio

from .._exceptions import StoreUnavailable
from .._options import check_seconds
from .._producer import CLOSE_TIMEOUT, Producer, check_producer, close_producer
from .._redact import ErrorFormatter, format_error, log_error
from .._request import MAX_CHAT_ID
from .._wire import check_name
from ._answer import StreamAnswer, stream_headers
from ._detached import FINISH_TIMEOUT, Detached
from ._frames import Frames
from ._ids import new_stream_id, parse_event_id, valid_stream_id
from ._memory import MemoryStore
from ._store import ABANDONED, SHUTDOWN, Probe, Store
from ._ui_frames import UI_MESSAGE_HEADERS, UIMessageFrames, UIReaderFraming

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._redis import RedisStore

__all__ = ["ResumableStreams"]

_NOT_RUNNING = (
    "ResumableStreams is not running: enter it (`async with streams:`) in the app's lifespan;"
    " chat_app(bot, resume=streams) does it when a server runs its lifespan"
)


def _refused(status: int, message: str, headers: dict[str, str] | None = None) -> StreamAnswer:
    return StreamAnswer(status, headers or {}, error=message)


def _grace(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"shutdown_grace must be a number of seconds, not {type(value).__name__}")
    if not 0 <= value < math.inf:
        raise ValueError(f"shutdown_grace must be a finite number >= 0, not {value!r}")
    return float(value)


def _frames_of(
    protocol: object, handshake_event: str, error_event: str, retry: int | None
) -> Frames:
    """The frames of `protocol`'s streams."""
    if protocol == "ai-sdk":
        given = (handshake_event, error_event, retry) != ("stream", "error", 1000)
        if given:
            raise ValueError(
                "handshake_event, error_event and retry are the 'ssekit' protocol's:"
                " leave them out with protocol='ai-sdk'"
            )
        return UIMessageFrames()
    if protocol != "ssekit":
        raise ValueError(f"protocol must be 'ssekit' or 'ai-sdk', not {protocol!r}")
    return Frames(
        check_name("handshake_event", handshake_event),
        check_name("error_event", error_event),
        retry,
    )


def _unavailable(exc: StoreUnavailable) -> StreamAnswer:
    return _refused(503, exc.message, {"retry-after": str(exc.retry_after)})


class ResumableStreams:
    """Resumable answers: detached from their request, resumed from any event, stopped on demand.

    - `store`: where frames are kept: a `MemoryStore()` (the default: one
      process) or a `RedisStore` (any number of workers).
    - `orphan_timeout` (`60.0`): seconds a stream may have no reader before its
      producer is stopped and the stream ends with the error event `abandoned`;
      `None`: always run to the end.
    - `shutdown_grace` (`5.0`): at shutdown, seconds running answers get to end
      before they are stopped with `shutdown`.
    - `retry` (`1000`): the reconnection delay (ms) sent to browsers with the
      first event; `None`: none.
    - `handshake_event` (`"stream"`): the name of the first event, sent at once,
      whose data is `{"stream_id": "<sid>"}` and whose id is `<sid>:1`.
    - `error_event` (`"error"`), `error_formatter`: the stream's error events,
      as in [StreamOptions][ssekit.StreamOptions].
    - `fallback` (`False`): when the store cannot take a new stream, stream it
      without resume (logged) instead of answering `503`.
    - `protocol` (`"ssekit"`): the wire its streams speak: `"ssekit"`, or
      `"ai-sdk"` (the AI SDK's UI Message Stream, resumed by chat id:
      `resume_chat`; `handshake_event`, `error_event` and `retry` are then
      the ssekit protocol's, left at their defaults).
    """

    def __init__(
        self,
        store: MemoryStore | RedisStore | None = None,
        *,
        orphan_timeout: float | None = 60.0,
        shutdown_grace: float = 5.0,
        retry: int | None = 1000,
        handshake_event: str = "stream",
        error_event: str = "error",
        error_formatter: ErrorFormatter = format_error,
        fallback: bool = False,
        protocol: str = "ssekit",
    ) -> None:
        if store is None:
            store = MemoryStore()
        if not hasattr(store, "_open"):
            raise TypeError(
                f"store must be a MemoryStore or RedisStore, not {type(store).__name__}"
            )
        self._store: Store = store
        self._orphan_timeout = check_seconds("orphan_timeout", orphan_timeout, optional=True)
        self._shutdown_grace = _grace(shutdown_grace)
        if retry is not None and (
            isinstance(retry, bool) or not isinstance(retry, int) or retry < 0
        ):
            raise ValueError(f"retry must be an int of milliseconds >= 0 or None, not {retry!r}")
        if not callable(error_formatter):
            raise TypeError(
                f"error_formatter must be callable, not {type(error_formatter).__name__}"
            )
        self._frames = _frames_of(protocol, handshake_event, error_event, retry)
        self._protocol: str = protocol
        self._formatter = error_formatter
        self._fallback = bool(fallback)
        self._running: dict[str, Detached] = {}
        self._tasks: TaskGroup | None = None
        self._closing = False
        self._drained: anyio.Event | None = None

    @property
    def running(self) -> bool:
        """Whether it has been entered (and not left): streams can start."""
        return self._tasks is not None

    @property
    def error_event(self) -> str:
        """The name of the error events that end its streams."""
        return self._frames.error_event

    @property
    def protocol(self) -> str:
        """The wire its streams speak: `"ssekit"` or `"ai-sdk"`."""
        return self._protocol

    @property
    def store_is_shared(self) -> bool:
        """Whether another process can serve these streams (`RedisStore`, not `MemoryStore`)."""
        return self._store.shared

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tasks is not None:
            raise RuntimeError("these ResumableStreams are already running")
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        try:
            await self._store._open(tasks, self._frames)
        except BaseException:
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)
            raise
        tasks.start_soon(self._watch_orphans)
        self._tasks, self._closing = tasks, False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Take no new stream; give running ones `shutdown_grace`, then end them (`shutdown`)."""
        tasks = self._tasks
        if tasks is None:
            return
        self._closing = True
        try:
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(self._shutdown_grace):
                    await self._wait_drained()
                for detached in list(self._running.values()):
                    detached.cancel(SHUTDOWN)
                with anyio.move_on_after(FINISH_TIMEOUT + CLOSE_TIMEOUT):
                    await self._wait_drained()
                await self._store._close()
        finally:
            self._tasks = None
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)

    async def _wait_drained(self) -> None:
        while self._running:
            self._drained = anyio.Event()
            await self._drained.wait()

    # -- the building blocks -----------------------------------------------------------------

    async def start(self, events: Producer, *, chat_id: str | None = None) -> StreamAnswer:
        """Start streaming `events` detached from the request; the answer reads it from the start.

        `events` yields events (dicts or [ServerSentEvent][ssekit.ServerSentEvent];
        with `protocol="ai-sdk"`, the protocol's encoded frames: `ProtocolStream.events`),
        each given the id `<sid>:<seq>` (any id it has is replaced; comments and
        `retry` alone are dropped). `chat_id` (the AI SDK request's `id`) makes it
        the chat's active answer, for `resume_chat`. The answer is `200` with
        `ssekit-stream-id`, or `503` (with `Retry-After`, before any byte) when the
        store cannot take it; `events` is then closed unrun, unless `fallback`
        streams it as is.
        """
        events = check_producer(events)
        tasks = self._tasks
        if tasks is None:
            await close_producer(events)
            raise RuntimeError(_NOT_RUNNING)
        sid = new_stream_id()
        detached = Detached(
            sid, self._frames.items(events), self._frames, self._formatter, self._store.max_events
        )
        try:
            if self._closing:
                raise StoreUnavailable("the server is shutting down")
            detached.owner = await self._store.create(
                sid, self._frames.handshake(sid), detached.cancel
            )
        except StoreUnavailable as exc:
            if self._fallback:
                log_error(exc, "a stream starts without resume (fallback)")
                return StreamAnswer(200, events=events)
            await close_producer(events)
            return _unavailable(exc)
        self._running[sid] = detached
        tasks.start_soon(self._produce, detached)
        if chat_id is not None:
            await self._link(chat_id, sid)
        return self._reading(sid, 0, Probe(1, None))

    async def resume(self, stream_id: str | None, last_event_id: str | None) -> StreamAnswer:
        """Answer a reconnect: the events of `stream_id` after `last_event_id`, catch-up then live.

        `last_event_id` is what the client sent (`Last-Event-ID`, or
        `?last_event_id=`: see [requested_id][ssekit.resume.requested_id]); `None`
        reads from the start. `stream_id` may be `None` when the id names it.
        `204` when the client has the stream's last event; `404` for an unknown or
        expired stream; `400` for a malformed id, an id of another stream, or one
        beyond what was written; `503` when the store cannot be reached.
        Never starts anything.
        """
        after = 0
        if last_event_id is not None:
            parsed = parse_event_id(last_event_id)
            if parsed is None:
                return _refused(400, "Last-Event-ID is not an event id of a resumable stream")
            named, after = parsed
            if stream_id is not None and named != stream_id:
                return _refused(400, "Last-Event-ID is an event id of another stream")
            stream_id = named
        if stream_id is None:
            raise ValueError("resume needs a stream_id, or a last_event_id naming one")
        if self._tasks is None:
            raise RuntimeError(_NOT_RUNNING)
        if not valid_stream_id(stream_id):
            return _refused(404, "no such stream")
        try:
            probe = await self._store.probe(stream_id, self._frames, after)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        if probe is None:
            return _refused(404, "no such stream: unknown, or expired")
        if after > (probe.last if probe.final is None else probe.final):
            return _refused(400, "Last-Event-ID is beyond the last event of the stream")
        if after == probe.final:
            return StreamAnswer(204, self._headers(stream_id), stream_id=stream_id)
        return self._reading(stream_id, after, probe)

    async def resume_chat(self, chat_id: str) -> StreamAnswer:
        """The AI SDK's resume: chat `chat_id`'s active answer from its start, catch-up then live.

        `204` when the chat has none (never started here, finished, or expired),
        `503` when the store cannot be reached. Never starts anything.
        """
        if self._tasks is None:
            raise RuntimeError(_NOT_RUNNING)
        if not isinstance(chat_id, str):
            raise TypeError(f"chat_id must be a str, not {type(chat_id).__name__}")
        if len(chat_id) > MAX_CHAT_ID:
            return StreamAnswer(204)  # no request can have started it: the store is not asked
        try:
            sid = await self._store.linked(chat_id)
            probe = None if sid is None else await self._store.probe(sid, self._frames, 0)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        if sid is None or probe is None or probe.final is not None:
            return StreamAnswer(204)
        return self._reading(sid, 0, probe)

    async def stop(self, stream_id: str) -> StreamAnswer:
        """Stop a stream, from any worker: its producer is closed and it ends with `stopped`.

        `202` when it was running (the producer stops at once on its own worker,
        within `lease / 4` on another), `204` when it had already ended, `404`
        when unknown or expired, `503` when the store cannot be reached.
        """
        if self._tasks is None:
            raise RuntimeError(_NOT_RUNNING)
        if not isinstance(stream_id, str) or not valid_stream_id(stream_id):
            return _refused(404, "no such stream")
        try:
            state = await self._store.stop(stream_id, self._frames)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        if state is None:
            return _refused(404, "no such stream: unknown, or expired")
        return StreamAnswer(202 if state == "stopping" else 204, stream_headers(stream_id))

    # -- inside ------------------------------------------------------------------------------

    def _headers(self, sid: str) -> dict[str, str]:
        headers = stream_headers(sid)
        return headers if self._protocol == "ssekit" else {**headers, **UI_MESSAGE_HEADERS}

    def _reading(self, sid: str, after: int, probe: Probe) -> StreamAnswer:
        """The `200` answer reading `sid` after seq `after`, as its protocol's clients read it."""
        reader = self._frames.reader(self._store.read(sid, after, probe))
        framing = None if self._protocol == "ssekit" else UIReaderFraming()
        return StreamAnswer(200, self._headers(sid), events=reader, stream_id=sid, framing=framing)

    async def _link(self, chat_id: str, sid: str) -> None:
        """Make `sid` the chat's active answer; if the store fails now, it stays resumable by id."""
        try:
            await self._store.link(chat_id, sid)
        except StoreUnavailable as exc:
            log_error(exc, "an answer cannot be found by its chat id (the store failed)")

    async def _produce(self, detached: Detached) -> None:
        try:
            await detached.run()
        finally:
            del self._running[detached.sid]
            if not self._running and self._drained is not None:
                self._drained.set()

    async def _watch_orphans(self) -> None:
        """Stop the streams nobody has read for `orphan_timeout` seconds."""
        timeout = self._orphan_timeout
        if timeout is None:
            return
        while True:
            await anyio.sleep(min(timeout / 4, 1.0))
            now = time.monotonic()
            for detached in list(self._running.values()):
                owner = detached.owner
                if owner is not None and now - owner.reader_seen_at() >= timeout:
                    detached.cancel(ABANDONED)

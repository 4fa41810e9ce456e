"""`ResumableStreams`: answers that outlive their connection, started, resumed and stopped.

It owns every stream's producer (in its task group: enter it with `async with`,
which `chat_app` does in its lifespan), so a client that leaves only ends its
reader; the answer goes on, ready to be resumed, until it ends, is stopped, or
has had no reader for `orphan_timeout` seconds. Each request about a stream gets
a [StreamAnswer][ssekit.resume.StreamAnswer] that any framework can serve.

This module answers those requests (start, resume, resume a chat, stop) and
picks the frames of the protocol; the task group the producers run in, and the
rules that end them (orphans, shutdown), are `_producers.py`'s.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from .._exceptions import StoreUnavailable
from .._producer import Producer, check_producer, close_producer
from .._redact import ErrorFormatter, format_error, log_error
from .._request import MAX_CHAT_ID
from .._wire import check_name
from ._answer import StreamAnswer, stream_headers
from ._detached import Detached
from ._frames import Frames
from ._ids import new_stream_id, parse_event_id, valid_stream_id
from ._memory import MemoryStore
from ._producers import NOT_RUNNING, Producers
from ._store import Probe, Store
from ._ui_frames import UI_MESSAGE_HEADERS, UIMessageFrames, UIReaderFraming

if TYPE_CHECKING:
    from ._redis import RedisStore

__all__ = ["ResumableStreams"]


def _refused(status: int, message: str, headers: dict[str, str] | None = None) -> StreamAnswer:
    return StreamAnswer(status, headers or {}, error=message)


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
        self._producers = Producers(orphan_timeout, shutdown_grace)
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

    @property
    def running(self) -> bool:
        """Whether it has been entered (and not left): streams can start."""
        return self._producers.entered

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
        await self._producers.enter(self._store, self._frames)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Take no new stream; give running ones `shutdown_grace`, then end them (`shutdown`)."""
        await self._producers.exit(self._store)

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
        if not self._producers.entered:
            await close_producer(events)
            raise RuntimeError(NOT_RUNNING)
        sid = new_stream_id()
        detached = Detached(
            sid, self._frames.items(events), self._frames, self._formatter, self._store.max_events
        )
        try:
            if self._producers.closing:
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
        self._producers.start(detached)
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
        if not self._producers.entered:
            raise RuntimeError(NOT_RUNNING)
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
        if not self._producers.entered:
            raise RuntimeError(NOT_RUNNING)
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
        if not self._producers.entered:
            raise RuntimeError(NOT_RUNNING)
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

"""The bytes a resumable stream stores and sends: each event encoded once, with its id.

A stored frame is exactly what a client is sent: one whole event ending with
its blank line, `id: <sid>:<seq>` included. Frames never contain a blank line
anywhere else (every line of an encoded event starts with a field name or a
colon), so a run of frames can be stored as one string and split back exactly.
Control frames (comments, `retry`) carry no id and are not stored: only the
engine's heartbeat goes between events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping

from .._encoder import encode
from .._event import ServerSentEvent
from .._producer import Item, Producer

__all__ = ["END", "Frames", "id_prefix", "split_frames"]

#: What ends every stored frame.
END = b"\n\n"


def id_prefix(sid: str) -> bytes:
    """What every event id line of stream `sid` starts with (its seq follows)."""
    return b"id: %s:" % sid.encode()


def split_frames(blob: bytes) -> list[bytes]:
    """The frames of a stored run, in order (`b""` has none)."""
    if not blob:
        return []
    parts = blob.split(END)
    parts.pop()  # the empty tail after the last frame's blank line
    return [part + END for part in parts]


class Frames:
    """Encodes one configuration's frames: the handshake, events, and its own endings.

    ssekit's own format; `_ui_frames.UIMessageFrames` is the AI SDK's.
    """

    __slots__ = ("_error_event", "_handshake_event", "_retry")

    def __init__(self, handshake_event: str, error_event: str, retry: int | None) -> None:
        self._handshake_event = handshake_event
        self._error_event = error_event
        self._retry = retry

    @property
    def error_event(self) -> str:
        return self._error_event

    def handshake(self, sid: str) -> bytes:
        """Event 1: sent at once, so a drop before the model's first token can resume too."""
        retry = b"" if self._retry is None else f"retry: {self._retry}\n".encode()
        data = json.dumps({"stream_id": sid}, separators=(",", ":"))
        return retry + encode({"event": self._handshake_event, "data": data, "id": f"{sid}:1"})

    def event(self, item: Item, prefix: bytes, seq: int) -> bytes | None:
        """`item` as event `seq` (any id it had is replaced); `None` for a control frame.

        `prefix` is `id_prefix(sid)`, made once per stream.
        """
        if type(item) is dict and "id" not in item:
            body = encode(item)
        elif isinstance(item, ServerSentEvent):
            body = encode(ServerSentEvent(item.data, item.event, None, item.retry, item.comment))
        elif isinstance(item, Mapping):
            body = encode({name: value for name, value in item.items() if name != "id"})
        else:
            raise TypeError(
                "a resumable stream needs events (dicts or ServerSentEvent), not"
                f" {type(item).__name__}: ssekit gives each event its id"
            )
        if not body.endswith(END):
            return None  # a comment or retry alone: nothing to dispatch, nothing to resume
        return b"%s%d\n%s" % (prefix, seq, body)

    def ending_parts(self, sid: str, text: str) -> tuple[bytes, bytes]:
        """The error event ending stream `sid` with `text`, as the bytes around its seq.

        Redis builds the frame from these when another worker ends the stream
        (`interrupted`, `stopped`): only Redis knows the next seq then.
        """
        body = encode({"event": self._error_event, "data": text})
        return id_prefix(sid), b"\n" + body

    def ending(self, sid: str, seq: int, text: str) -> bytes:
        """The error event that ends stream `sid` as event `seq`, saying `text`."""
        before, after = self.ending_parts(sid, text)
        return b"%s%d%s" % (before, seq, after)

    def notice(self, code: str) -> bytes:
        """An error event without an id: this connection ends, the stream may not have."""
        return encode({"event": self._error_event, "data": code})

    def items(self, events: Producer) -> Producer:
        """The producer's items as `event` takes them (a protocol's frames split in events)."""
        return events

    def reader(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """A reader's chunks as its client is sent them (what a protocol adds on the way)."""
        return chunks

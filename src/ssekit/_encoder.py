"""Turn events into exact `text/event-stream` bytes (sans-IO).

A [`ServerSentEvent`][ssekit.ServerSentEvent] was written when it was built
(`_event.py`); a dict is checked and written here by the same step (`_wire.py`),
after a hot path for the `{"event": name, "data": text}` dict that `sse_stream`
yields for every token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from ._event import ServerSentEvent
from ._wire import HEADS, check_keys, comment_lines, data_lines, write_fields

__all__ = ["EventLike", "encode", "encode_comment", "encode_many"]

EventLike: TypeAlias = "ServerSentEvent | Mapping[str, Any]"
"""What the encoder accepts: a [`ServerSentEvent`][ssekit.ServerSentEvent] or a seed-style dict.

A dict's keys are the event's fields (`data`, `event`, `id`, `retry`, `comment`), checked
like the event's own: an unknown key is a `TypeError`.
"""


def _to_utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field}: lone surrogate {text[exc.start]!r} cannot be encoded as UTF-8"
        ) from None


def encode(event: EventLike) -> bytes:
    """Encode one event (a [`ServerSentEvent`][ssekit.ServerSentEvent] or a dict) to UTF-8 bytes.

    Raises `TypeError`/`ValueError` naming the field before producing any byte.
    """
    if type(event) is dict and len(event) == 2:
        try:
            # The hot path: the {"event": name, "data": text} dict that sse_stream
            # yields, with a name seen before. Anything else, a lone surrogate
            # included, takes the general path below, which writes or refuses it.
            data = event["data"]
            if type(data) is str:  # not a subclass: its __format__ would be written
                head = HEADS[event["event"]]
                if "\n" in data or "\r" in data:
                    return f"{head}{data_lines(data)}\n\n".encode()
                return f"{head}{data}\n\n".encode()
        except (KeyError, TypeError, UnicodeEncodeError):
            pass
    if isinstance(event, ServerSentEvent):
        return event._state[0]  # written when it was built
    if type(event) is dict or isinstance(event, Mapping):
        check_keys(event)
        get = event.get
        return write_fields(get("data", ""), get("event"), get("id"), get("retry"), get("comment"))
    raise TypeError(f"an event must be a dict or ServerSentEvent, not {type(event).__name__}")


def encode_comment(text: str = "") -> bytes:
    """A comment frame (`: text`), e.g. a keep-alive, with no blank line after it."""
    if not isinstance(text, str):
        raise TypeError(f"comment must be str, not {type(text).__name__}")
    # A str subclass is read by its value: its own split() could smuggle a line break.
    return _to_utf8(comment_lines(str.__str__(text)), "comment")


def encode_many(events: Iterable[EventLike]) -> bytes:
    """Encode several ready events into one `bytes` (one write, one ASGI message)."""
    return b"".join([encode(event) for event in events])

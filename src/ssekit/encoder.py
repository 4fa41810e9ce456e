"""Turn events into exact ``text/event-stream`` bytes (sans-IO).

The rules come from the WHATWG parsing algorithm: LF as the only line
terminator, ``field: value`` with the space, data split on CRLF, CR and LF
only, one data line at least per dispatched event, one blank line after it,
and control frames (comments, retry) with no blank line at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from .event import ServerSentEvent, check_name

__all__ = ["EventLike", "encode", "encode_comment", "encode_many"]

#: What the encoder accepts: an event object or a seed-style dict.
EventLike: TypeAlias = "ServerSentEvent | Mapping[str, Any]"

# Event names already validated, mapped to their ready-made prefix. Bounded so
# that a producer inventing names cannot grow it without limit.
_PREFIXES: dict[str, str] = {}
_PREFIX_CACHE_SIZE = 256


def _prefix(name: str) -> str:
    prefix = _PREFIXES.get(name)
    if prefix is None:
        check_name("event", name)
        prefix = f"event: {name}\ndata: "
        if len(_PREFIXES) < _PREFIX_CACHE_SIZE:
            _PREFIXES[name] = prefix
    return prefix


def _data_lines(data: str) -> str:
    """``data`` as the body of ``data:`` lines, split on exactly CRLF, CR and LF."""
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    return data.replace("\n", "\ndata: ")


def _to_utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field}: lone surrogate {text[exc.start]!r} cannot be encoded as UTF-8"
        ) from None


def _comment_lines(text: str) -> str:
    """One ``: line`` per line of ``text`` (``:`` alone for an empty line)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(f": {line}\n" if line else ":\n" for line in text.split("\n"))


def _encode_event(event: ServerSentEvent) -> bytes:
    parts = []
    if event.comment is not None:
        parts.append(_comment_lines(event.comment))
    if event.event is not None:
        parts.append(f"event: {event.event}\n")
    if event.id is not None:
        parts.append(f"id: {event.id}\n")
    if event.retry is not None:
        parts.append(f"retry: {event.retry}\n")
    if not event.is_control:
        parts.append(f"data: {_data_lines(event.data)}\n\n")
    return "".join(parts).encode("utf-8")  # validated when built: cannot fail


def encode(event: EventLike) -> bytes:
    """Encode one event (a :class:`ServerSentEvent` or a dict) to UTF-8 bytes.

    Raises ``TypeError``/``ValueError`` naming the field before producing any byte.
    """
    if type(event) is dict and len(event) == 2:
        # The hot path: a seed-style {"event": name, "data": text} dict.
        name = event.get("event")
        data = event.get("data")
        if type(name) is str and type(data) is str:
            text = _prefix(name) + _data_lines(data) + "\n\n"
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"data: lone surrogate {text[exc.start]!r} cannot be encoded as UTF-8"
                ) from None
    if isinstance(event, ServerSentEvent):
        return _encode_event(event)
    if isinstance(event, Mapping):
        return _encode_event(ServerSentEvent.from_mapping(event))
    raise TypeError(f"an event must be a dict or ServerSentEvent, not {type(event).__name__}")


def encode_comment(text: str = "") -> bytes:
    """A comment frame (``: text``), e.g. a keep-alive, with no blank line after it."""
    if not isinstance(text, str):
        raise TypeError(f"comment must be str, not {type(text).__name__}")
    return _to_utf8(_comment_lines(text), "comment")


def encode_many(events: Iterable[EventLike]) -> bytes:
    """Encode several ready events into one ``bytes`` (one write, one ASGI message)."""
    return b"".join([encode(event) for event in events])

"""Turn events into exact ``text/event-stream`` bytes (sans-IO).

The rules come from the WHATWG parsing algorithm: LF as the only line
terminator, ``field: value`` with the space, data split on CRLF, CR and LF
only, one data line at least per dispatched event, one blank line after it,
and control frames (comments, retry) with no blank line at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from ._event import ServerSentEvent, check_fields, check_keys, is_control

__all__ = ["EventLike", "encode", "encode_comment", "encode_many"]

EventLike: TypeAlias = "ServerSentEvent | Mapping[str, Any]"
"""What the encoder accepts: a [`ServerSentEvent`][ssekit.ServerSentEvent] or a seed-style dict.

A dict's keys are the event's fields (`data`, `event`, `id`, `retry`, `comment`), checked
like the event's own: an unknown key is a `TypeError`.
"""

# Event names already validated, mapped to their ready-made prefix. Bounded so
# that a producer inventing names cannot grow it without limit.
_PREFIXES: dict[str, str] = {}
_PREFIX_CACHE_SIZE = 256
_isprintable = str.isprintable


def _remember_prefix(name: str) -> str:
    """The ``event: name`` + ``data: `` prefix of a validated name, cached for the hot path."""
    prefix = f"event: {name}\ndata: "
    if len(_PREFIXES) < _PREFIX_CACHE_SIZE:
        _PREFIXES[name] = prefix
    return prefix


def _data_lines(data: str) -> str:
    """``data`` as the body of ``data:`` lines, split on exactly CRLF, CR and LF."""
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    return data.replace("\n", "\ndata: ")


def _exact(text: Any) -> Any:
    """``text`` as a plain ``str`` (``None`` stays ``None``)."""
    return text if text is None or type(text) is str else str.__str__(text)


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


def _encode_fields(
    data: str, event: str | None, id: str | None, retry: int | None, comment: str | None
) -> bytes:
    """Write validated fields: comment lines, event, id, retry, then the data lines."""
    # A str subclass is written by its value, never by its own __str__/__format__.
    data, event, id, comment = (_exact(data), _exact(event), _exact(id), _exact(comment))
    if event is not None and id is None and retry is None and comment is None:
        prefix = _PREFIXES.get(event) or _remember_prefix(event)
        return f"{prefix}{_data_lines(data)}\n\n".encode()
    parts = []
    if comment is not None:
        parts.append(_comment_lines(comment))
    if event is not None:
        parts.append(f"event: {event}\n")
    if id is not None:
        parts.append(f"id: {id}\n")
    if retry is not None:
        parts.append(f"retry: {retry}\n")
    if not is_control(data, event, id, retry, comment):
        parts.append(f"data: {_data_lines(data)}\n\n")
    return "".join(parts).encode()


def encode(event: EventLike) -> bytes:
    """Encode one event (a [`ServerSentEvent`][ssekit.ServerSentEvent] or a dict) to UTF-8 bytes.

    Raises ``TypeError``/``ValueError`` naming the field before producing any byte.
    """
    if type(event) is dict:
        try:
            # The hot path: a seed-style {"event": name, "data": text} dict whose
            # name was seen before; anything else takes the general path below,
            # which handles or refuses it. For short data (LLM tokens) one
            # ``str.isprintable`` call does the work of the CR/LF checks: it is
            # false for every line break, control character and lone surrogate.
            # Longer data gets two ``in`` scans, which cost less per character.
            data = event["data"]
            if (
                len(event) == 2
                and type(data) is str  # not a subclass: its __format__ would be written
                and (
                    _isprintable(data) if len(data) < 24 else "\n" not in data and "\r" not in data
                )
            ):
                return f"{_PREFIXES[event['event']]}{data}\n\n".encode()
            if len(event) == 2 and type(data) is str:  # several lines
                return f"{_PREFIXES[event['event']]}{_data_lines(data)}\n\n".encode()
        except (KeyError, TypeError, UnicodeEncodeError):
            pass
    if isinstance(event, ServerSentEvent):
        # Validated when built: encoding cannot fail.
        return _encode_fields(event.data, event.event, event.id, event.retry, event.comment)
    if isinstance(event, Mapping):
        check_keys(event)
        fields = (
            event.get("data", ""),
            event.get("event"),
            event.get("id"),
            event.get("retry"),
            event.get("comment"),
        )
        check_fields(*fields)
        return _encode_fields(*fields)
    raise TypeError(f"an event must be a dict or ServerSentEvent, not {type(event).__name__}")


def encode_comment(text: str = "") -> bytes:
    """A comment frame (``: text``), e.g. a keep-alive, with no blank line after it."""
    if not isinstance(text, str):
        raise TypeError(f"comment must be str, not {type(text).__name__}")
    return _to_utf8(_comment_lines(text), "comment")


def encode_many(events: Iterable[EventLike]) -> bytes:
    """Encode several ready events into one ``bytes`` (one write, one ASGI message)."""
    return b"".join([encode(event) for event in events])

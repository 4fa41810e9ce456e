"""The event model: one immutable, validated Server-Sent Event, and the bytes it is written as.

Checking an event and writing it are one step, done once, when it is built: nothing
invalid can ever be half-written to a client, and encoding a built event is reading
its bytes. The seed-style dicts the encoder takes go through the same step. The rules
are the WHATWG parser's: LF the only line terminator, `field: value` with the space,
data split on CRLF, CR and LF only, a data line in every dispatched event and a blank
line after it, and no blank line after a control frame (comments, retry).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError
from typing import Any, NoReturn

__all__ = [
    "FIELDS",
    "HEADS",
    "ServerSentEvent",
    "check_id",
    "check_keys",
    "check_name",
    "comment_lines",
    "write_fields",
]

#: The keys a dict event may carry (the seed's `{"event", "data"}` shape plus extras).
FIELDS = frozenset({"data", "event", "id", "retry", "comment"})

#: How an event starts, by its name: `event: name` and `data: `, or `data: ` for no
#: name. Only names already validated are here: producers reuse a handful, so each is
#: checked once; bounded, so that a producer inventing names cannot grow it without limit.
HEADS: dict[str | None, str] = {None: "data: "}
_HEADS_SIZE = 256


# --- checks: each names its field; a `str` subclass is read by its value -------------


def _exact(field: str, value: object) -> str:
    """`value` as a plain `str`: a subclass's own methods could lie to a check or forge output."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{field} must be str, not {type(value).__name__}")


def _encodable(field: str, text: str) -> str:
    """Refuse lone surrogates: they cannot be written as UTF-8."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{field}: lone surrogate {text[exc.start]!r} at index {exc.start} "
                "cannot be encoded as UTF-8"
            ) from None
    return text


def _single_line(field: str, text: str) -> str:
    """A CR or LF would let the value forge new fields or events; a NUL is never intended."""
    for char, label in (("\r", "CR"), ("\n", "LF"), ("\0", "NUL")):
        if char in text:
            raise ValueError(
                f"{field} must not contain {label} (found at index {text.index(char)})"
            )
    return _encodable(field, text)


def check_name(field: str, value: object) -> str:
    """Validate an event name (or a configurable one such as `done_event`).

    One line of text, not empty: an empty name would silently arrive as `message`.
    """
    if type(value) is str and value in HEADS:
        return value
    name = _exact(field, value)
    if not name:
        raise ValueError(f"{field} must not be empty (an empty event name arrives as 'message')")
    _single_line(field, name)
    if len(HEADS) < _HEADS_SIZE:
        HEADS[name] = f"event: {name}\ndata: "
    return name


def check_id(field: str, value: object) -> str:
    """Validate an event id (or an option that becomes one): a single line of text."""
    return _single_line(field, _exact(field, value))


def _check_retry(retry: object) -> int:
    if type(retry) is not int or retry < 0:  # bool is refused too
        raise (ValueError if type(retry) is int else TypeError)(
            f"retry must be a non-negative int of milliseconds, not {retry!r}"
        )
    return retry


def check_keys(fields: Mapping[str, Any]) -> None:
    """Refuse a dict event with keys that are not event fields, naming them."""
    if FIELDS.issuperset(fields.keys()):
        return
    unknown = fields.keys() - FIELDS
    if unknown:
        names = ", ".join(sorted(repr(k) for k in unknown))
        raise TypeError(f"unknown event field(s) {names}; allowed: {', '.join(sorted(FIELDS))}")


def is_control(
    data: str, event: str | None, id: str | None, retry: int | None, comment: str | None
) -> bool:
    """True for a comment/retry-only frame, which must not dispatch an event."""
    return (
        event is None and id is None and data == "" and (comment is not None or retry is not None)
    )


# --- writing ---------------------------------------------------------------------------


def data_lines(data: str) -> str:
    """`data` as the body of `data:` lines, split on exactly CRLF, CR and LF."""
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    return data.replace("\n", "\ndata: ")


def comment_lines(text: str) -> str:
    """One `: line` per line of `text` (`:` alone for an empty line)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(f": {line}\n" if line else ":\n" for line in text.split("\n"))


def write_fields(data: object, event: object, id: object, retry: object, comment: object) -> bytes:
    """The UTF-8 bytes of an event's five fields, or the error that names the first bad one.

    The common shapes (plain `str` data, a name seen before or none, maybe an id, no
    retry or comment) are checked and written in one pass, whose `str.encode` also
    refuses a lone surrogate; anything else, or any doubt, takes `_write_checked`.
    """
    if type(data) is str and retry is None and comment is None:
        try:
            if event is None or type(event) is str:  # a subclass could pass for a known name
                head = HEADS[event]
                body = data_lines(data) if "\n" in data or "\r" in data else data
                if id is None:
                    return f"{head}{body}\n\n".encode()
                if type(id) is str and "\n" not in id and "\r" not in id and "\0" not in id:
                    if event is None:
                        return f"id: {id}\ndata: {body}\n\n".encode()
                    return f"event: {event}\nid: {id}\ndata: {body}\n\n".encode()
        except (KeyError, UnicodeEncodeError):
            pass  # a name not seen yet, or a lone surrogate: checked below, in order
    return _write_checked(data, event, id, retry, comment)


def _write_checked(
    data: object, event: object, id: object, retry: object, comment: object
) -> bytes:
    """Check the fields in order (the first bad one raises), then write them."""
    text = _encodable("data", _exact("data", data))
    name = None if event is None else check_name("event", event)
    ident = None if id is None else check_id("id", id)
    pause = None if retry is None else _check_retry(retry)
    note = None if comment is None else _encodable("comment", _exact("comment", comment))
    parts = []
    if note is not None:
        parts.append(comment_lines(note))
    if name is not None:
        parts.append(f"event: {name}\n")
    if ident is not None:
        parts.append(f"id: {ident}\n")
    if pause is not None:
        parts.append(f"retry: {pause}\n")
    if not is_control(text, name, ident, pause, note):
        parts.append(f"data: {data_lines(text)}\n\n")
    return "".join(parts).encode()


# --- the event ---------------------------------------------------------------------------


class ServerSentEvent:
    """One Server-Sent Event, validated when built.

    `data` may span lines (each becomes its own `data:` line; a CR arrives
    as LF, as the spec's parsers read it). `event` and `id` must be single
    lines without NUL; `retry` is a non-negative `int` of milliseconds;
    `comment` is written as `:` lines that clients ignore.

    An event made only of `comment` and/or `retry` (no `event`, no `id`,
    empty `data`) is a *control frame*: it is written without a data line and
    without the blank line, so no client dispatches an empty message for it.

    Events are immutable (setting or deleting an attribute raises
    `dataclasses.FrozenInstanceError`), equal when their five fields are, and
    hashable.
    """

    # One slot: the wire bytes and the five fields as given. It is filled through its
    # descriptor, one call where a frozen dataclass makes one `object.__setattr__` per field.
    __slots__ = ("_state",)
    __match_args__ = ("data", "event", "id", "retry", "comment")
    _state: tuple[bytes, str, str | None, str | None, int | None, str | None]

    def __init__(
        self,
        data: str = "",
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        if id is None and retry is None and comment is None and type(data) is str:
            # The commonest shape of `write_fields`, inlined: its call costs as much as this.
            try:
                if "\n" not in data and "\r" not in data and (event is None or type(event) is str):
                    wire = f"{HEADS[event]}{data}\n\n".encode()
                    _set_state(self, (wire, data, event, None, None, None))
                    return
            except (KeyError, UnicodeEncodeError):
                pass
        wire = write_fields(data, event, id, retry, comment)
        _set_state(self, (wire, data, event, id, retry, comment))

    @property
    def data(self) -> str:
        """The text of the event; it may span lines."""
        return self._state[1]

    @property
    def event(self) -> str | None:
        """The event name (`None`: the client's default, `message`)."""
        return self._state[2]

    @property
    def id(self) -> str | None:
        """The event id, which the client sends back as `Last-Event-ID` when it reconnects."""
        return self._state[3]

    @property
    def retry(self) -> int | None:
        """The client's reconnection delay, in milliseconds."""
        return self._state[4]

    @property
    def comment(self) -> str | None:
        """Text written as `:` lines, which clients ignore."""
        return self._state[5]

    @property
    def is_control(self) -> bool:
        """True for a comment/retry-only frame that must not dispatch an event."""
        return is_control(*self._state[1:])

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._state[1:] == other._state[1:]

    def __hash__(self) -> int:
        return hash(self._state[1:])

    def __repr__(self) -> str:
        data, event, id, retry, comment = self._state[1:]
        return (
            f"{self.__class__.__qualname__}(data={data!r}, event={event!r}, id={id!r}, "
            f"retry={retry!r}, comment={comment!r})"
        )

    def __reduce__(self) -> tuple[type[ServerSentEvent], tuple[Any, ...]]:
        # Pickled and copied as its five fields, checked again when rebuilt.
        return (self.__class__, self._state[1:])

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any]) -> ServerSentEvent:
        """Build an event from a seed-style dict such as `{"event": "x", "data": "y"}`."""
        if not isinstance(fields, Mapping):
            raise TypeError(
                f"an event must be a dict or ServerSentEvent, not {type(fields).__name__}"
            )
        check_keys(fields)
        return cls(**fields)

    @classmethod
    def json(
        cls,
        obj: Any,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
        dumps: Callable[[Any], str | bytes] = json.dumps,
    ) -> ServerSentEvent:
        """Build an event whose data is `obj` serialised as JSON.

        `dumps` is pluggable (`orjson.dumps` returning `bytes` works too).
        JSON never contains a raw line break, so the payload survives the trip exactly.
        """
        payload = dumps(obj)
        if type(payload) is not str:
            if isinstance(payload, bytes):
                payload = payload.decode("utf-8")
            elif not isinstance(payload, str):
                raise TypeError(f"dumps must return str or bytes, not {type(payload).__name__}")
        # Positional: keywords would cost a class call more than all of its checks.
        return cls(payload, event, id, retry, comment)


_set_state = ServerSentEvent.__dict__["_state"].__set__

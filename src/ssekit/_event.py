"""The event model: one immutable Server-Sent Event, validated and written when it is built.

Building an event takes the wire's one checked step (`_wire.py`) and keeps its bytes,
so encoding a built event is reading them, and nothing invalid can ever be built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import Field, FrozenInstanceError, dataclass
from typing import Any, ClassVar, NoReturn

from ._wire import HEADS, check_keys, is_control, write_fields

__all__ = ["ServerSentEvent"]


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
    hashable; `dataclasses.replace`, `fields` and `asdict` work on them.
    """

    # One slot: the wire bytes and the five fields as given. It is filled through its
    # descriptor, one call where a frozen dataclass makes one `object.__setattr__` per field.
    __slots__ = ("_state",)
    __match_args__ = ("data", "event", "id", "retry", "comment")
    _state: tuple[bytes, str, str | None, str | None, int | None, str | None]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

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
                try:
                    payload = bytes.decode(payload, "utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"dumps returned bytes that are not UTF-8 (at {exc.start})"
                    ) from None
            elif not isinstance(payload, str):
                raise TypeError(f"dumps must return str or bytes, not {type(payload).__name__}")
        # Positional: keywords would cost a class call more than all of its checks.
        return cls(payload, event, id, retry, comment)


_set_state = ServerSentEvent.__dict__["_state"].__set__


@dataclass(frozen=True)
class _Fields:
    """The five fields as `dataclasses` describes them, lent to the event.

    The event used to be a frozen dataclass, so code may call `dataclasses.replace`,
    `fields` or `asdict` on it; they need only this description (a replaced event is
    built, so checked, again). The event itself is not one: a single slot filled once
    costs less than the five `object.__setattr__` calls of a frozen dataclass.
    """

    data: str = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None


ServerSentEvent.__dataclass_fields__ = _Fields.__dataclass_fields__

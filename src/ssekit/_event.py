"""The event model: one immutable, validated Server-Sent Event.

Validation happens once, when the event is built, so that the encoder can
trust it and nothing invalid can ever be half-written to a client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FIELDS", "ServerSentEvent", "check_fields", "check_keys", "check_name", "is_control"]

#: The keys a dict event may carry (the seed's ``{"event", "data"}`` shape plus extras).
FIELDS = frozenset({"data", "event", "id", "retry", "comment"})


# Event names already validated: producers reuse a handful, so check each once.
# Bounded, so that a producer inventing names cannot grow it without limit.
_known_names: set[str] = set()
_KNOWN_NAMES_SIZE = 256


def _check_encodable(field: str, value: str) -> None:
    """Refuse lone surrogates: they cannot be written as UTF-8."""
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ValueError(
            f"{field}: lone surrogate {bad!r} at index {exc.start} cannot be encoded as UTF-8"
        ) from None


def _check_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be str, not {type(value).__name__}")
    return value


def check_name(field: str, value: object) -> str:
    """Validate an event name (or a configurable one such as ``done_event``).

    A CR or LF would let the value forge new fields or events; a NUL is never
    intended; an empty name would silently arrive as ``message``.
    """
    if type(value) is str and value in _known_names:
        return value
    name = _check_str(field, value)
    if not name:
        raise ValueError(f"{field} must not be empty (an empty event name arrives as 'message')")
    _check_line(field, name)
    if len(_known_names) < _KNOWN_NAMES_SIZE:
        _known_names.add(name)
    return name


def check_id(field: str, value: object) -> str:
    """Validate an event id (or an option that becomes one): a single line of text."""
    _check_line(field, _check_str(field, value))
    return value  # type: ignore[return-value]  # checked just above


def _check_line(field: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\0" in value:
        for char, label in (("\r", "CR"), ("\n", "LF"), ("\0", "NUL")):
            if char in value:
                raise ValueError(
                    f"{field} must not contain {label} (found at index {value.index(char)})"
                )
    _check_encodable(field, value)


def check_fields(data: object, event: object, id: object, retry: object, comment: object) -> None:
    """Validate the five fields of an event, naming the first bad one."""
    if type(data) is not str or not data.isascii():
        _check_encodable("data", _check_str("data", data))
    if event is not None:
        check_name("event", event)
    if id is not None:
        _check_line("id", _check_str("id", id))
    if retry is not None and (type(retry) is not int or retry < 0):  # bool is refused too
        raise (ValueError if type(retry) is int else TypeError)(
            f"retry must be a non-negative int of milliseconds, not {retry!r}"
        )
    if comment is not None:
        _check_encodable("comment", _check_str("comment", comment))


def check_keys(fields: Mapping[str, Any]) -> None:
    """Refuse a dict event with keys that are not event fields, naming them."""
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


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One Server-Sent Event, validated when built.

    ``data`` may span lines (each becomes its own ``data:`` line; a CR arrives
    as LF, as the spec's parsers read it). ``event`` and ``id`` must be single
    lines without NUL; ``retry`` is a non-negative ``int`` of milliseconds;
    ``comment`` is written as ``:`` lines that clients ignore.

    An event made only of ``comment`` and/or ``retry`` (no ``event``, no ``id``,
    empty ``data``) is a *control frame*: it is written without a data line and
    without the blank line, so no client dispatches an empty message for it.
    """

    data: str = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        check_fields(self.data, self.event, self.id, self.retry, self.comment)

    @property
    def is_control(self) -> bool:
        """True for a comment/retry-only frame that must not dispatch an event."""
        return is_control(self.data, self.event, self.id, self.retry, self.comment)

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any]) -> ServerSentEvent:
        """Build an event from a seed-style dict such as ``{"event": "x", "data": "y"}``."""
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
        """Build an event whose data is ``obj`` serialised as JSON.

        ``dumps`` is pluggable (``orjson.dumps`` returning ``bytes`` works too).
        JSON never contains a raw line break, so the payload survives the trip exactly.
        """
        payload = dumps(obj)
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        if not isinstance(payload, str):
            raise TypeError(f"dumps must return str or bytes, not {type(payload).__name__}")
        return cls(data=payload, event=event, id=id, retry=retry, comment=comment)

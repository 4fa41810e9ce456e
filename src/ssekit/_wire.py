"""The `text/event-stream` wire rules: each field's check, and the one step that writes an event.

Checking an event and writing it are one step, done once: nothing invalid can ever be
half-written to a client. [`ServerSentEvent`][ssekit.ServerSentEvent] takes it when it
is built (`_event.py`), a seed-style dict when it is encoded (`_encoder.py`). The rules
are the WHATWG parser's: LF the only line terminator, `field: value` with the space,
data split on CRLF, CR and LF only, a data line in every dispatched event and a blank
line after it, and no blank line after a control frame (comments, retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "FIELDS",
    "HEADS",
    "check_id",
    "check_keys",
    "check_name",
    "comment_lines",
    "data_lines",
    "is_control",
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
    """A reconnection delay in whole milliseconds: clients ignore any other `retry:` value."""
    if type(retry) is not int or retry < 0:  # bool is refused too
        raise (ValueError if type(retry) is int else TypeError)(
            f"retry must be a non-negative int of milliseconds, not {retry!r}"
        )
    return retry


def check_keys(fields: Mapping[str, Any]) -> None:
    """Refuse a dict event with keys that are not event fields, naming them."""
    if FIELDS.issuperset(fields.keys()):
        return
    names = ", ".join(sorted(repr(key) for key in fields.keys() - FIELDS))
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

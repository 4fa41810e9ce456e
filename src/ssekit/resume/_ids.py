"""Stream ids and event ids: `<sid>:<seq>`, made and read strictly before any store is asked.

The `sid` is a 128-bit capability (`secrets.token_urlsafe(16)`: 22 characters of
`[A-Za-z0-9_-]`), never reused, so an event id names its stream and its place in
it. Whatever a client sends back is checked here first: a malformed id never
reaches Redis, and an id of another stream is refused, not replayed.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["event_id", "new_stream_id", "parse_event_id", "valid_stream_id"]

#: A stream id: what `new_stream_id` makes (accepted from 16 to 64 characters).
_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: `<sid>:<seq>`: seq is 0 (nothing received yet) or a number without leading zeros.
_EVENT_ID = re.compile(r"([A-Za-z0-9_-]{16,64}):(0|[1-9][0-9]{0,14})")


def new_stream_id() -> str:
    """A fresh, unguessable stream id (128 random bits)."""
    return secrets.token_urlsafe(16)


def valid_stream_id(text: str) -> bool:
    """Whether `text` has the shape of a stream id (it may still be unknown)."""
    return _STREAM_ID.fullmatch(text) is not None


def event_id(sid: str, seq: int) -> str:
    """The `id` of event `seq` of stream `sid`."""
    return f"{sid}:{seq}"


def parse_event_id(text: str) -> tuple[str, int] | None:
    """`(sid, seq)` of an event id a client sent back, or `None` if it is not one of ours."""
    match = _EVENT_ID.fullmatch(text)
    if match is None:
        return None
    return match[1], int(match[2])

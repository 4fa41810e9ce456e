"""The wire step (`ssekit._wire`): fast paths for the common shapes, a checked path for the rest.

These tests pin that every path (the one-pass `write_fields`, the event's inlined shape,
the encoder's dict hot path) writes or refuses exactly as the checked path does, byte
for byte and error for error, naming the first bad field.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ssekit import ServerSentEvent, encode
from ssekit._wire import HEADS, _write_checked, write_fields

# --- the fast paths and the checked path agree ----------------------------------------

_text = st.text(max_size=12) | st.sampled_from(["", "\n", "\r", "a\r\nb", "\0", "\ud800", " x"])
_names = st.sampled_from(["message", "done", "delta"]) | _text
_odd = st.integers(-2, 5) | st.booleans() | st.binary(max_size=2)
_fields = st.tuples(
    _text | _odd,
    st.none() | _names | _odd,
    st.none() | _text | _odd,
    st.none() | _odd,
    st.none() | _text | _odd,
)


def _outcome(write: Any, *fields: Any) -> bytes | tuple[type[Exception], str]:
    try:
        return bytes(write(*fields))
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


@settings(max_examples=500, deadline=None)
@given(_fields)
@example(("x", "message", "a\0b", None, None))
@example(("x", None, "a\rb", None, None))
@example(("a\nb\rc", "message", "7", None, None))
@example(("a\ud800", "message", "7", None, None))
@example(("x", "message", "\ud800", None, None))
@example(("a\ud800", None, "a\nb", None, None))
def test_every_path_writes_or_refuses_like_the_checked_one(fields: tuple[Any, ...]) -> None:
    """`write_fields`, the event's inlined shape and the dict's hot path, against the checks."""
    want = _outcome(_write_checked, *fields)
    assert _outcome(write_fields, *fields) == want
    assert _outcome(lambda *f: encode(ServerSentEvent(*f)), *fields) == want
    data, event, id, retry, comment = fields
    as_dict = {"data": data, "event": event, "id": id, "retry": retry, "comment": comment}
    if data is None:  # the dict's default data is "", the checked path's None is refused
        return
    as_dict = {key: value for key, value in as_dict.items() if value is not None}
    assert _outcome(encode, as_dict) == want


def test_names_past_the_cache_bound_are_still_checked_and_written() -> None:
    saved = dict(HEADS)
    try:
        for index in range(300):  # fills the cache to its bound, then some
            assert encode({"event": f"name{index}", "data": "x"}) == (
                f"event: name{index}\ndata: x\n\n".encode()
            )
        assert "name299" not in HEADS
        assert encode(ServerSentEvent(data="x", event="name299")) == b"event: name299\ndata: x\n\n"
        with pytest.raises(ValueError, match="^event must not contain LF"):
            ServerSentEvent(data="x", event="name\n300")
    finally:
        HEADS.clear()
        HEADS.update(saved)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"data": "\ud800", "id": "a\rb"}, ValueError, "data: lone surrogate"),
        ({"data": 1, "event": ""}, TypeError, "data must be str, not int"),
        ({"event": "", "id": "a\nb"}, ValueError, "event must not be empty"),
        ({"event": "m", "id": "a\ud800\n", "retry": -1}, ValueError, "id must not contain LF"),
        ({"id": "\ud800", "retry": True}, ValueError, "id: lone surrogate"),
        ({"retry": "1", "comment": 2}, TypeError, "retry must be a non-negative int"),
    ],
)
def test_the_first_bad_field_is_named(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    for build in (ServerSentEvent.from_mapping, encode):
        with pytest.raises(error, match=f"^{message}"):
            build(fields)

"""The event model (`ssekit._event`): what a built event promises.

An event is checked and written once, when it is built (the step itself is tested in
`test_wire.py`); these tests pin that a str subclass is read by its value, and that
the event keeps the behaviour of the frozen dataclass it replaced (immutable,
compared, hashed, shown, matched, copied), and what `ServerSentEvent.json` accepts.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from typing import Any

import pytest

from ssekit import ServerSentEvent, encode
from tests.support.parsers import Parsed, parse_httpx_sse

# --- a str subclass is read by its value -----------------------------------------------


class _Lying(str):
    """A str whose own methods would let a CR/LF through every check that trusts them."""

    def __contains__(self, item: object) -> bool:
        return False

    def isascii(self) -> bool:
        return True

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"fine"

    def split(self, sep: Any = None, maxsplit: Any = -1) -> list[str]:
        return [str.__str__(self)]

    def replace(self, old: Any, new: Any, count: Any = -1) -> str:
        return self


@pytest.mark.parametrize("field", ["event", "id"])
def test_a_lying_subclass_cannot_forge_a_single_line_field(field: str) -> None:
    fields = {"event": "message", "data": "tok", field: _Lying("x\n\nevent: forged")}
    for build in (ServerSentEvent.from_mapping, encode):
        with pytest.raises(ValueError, match=f"^{field} must not contain LF"):
            build(fields)


@pytest.mark.parametrize("field", ["data", "comment"])
def test_a_lying_subclass_is_written_by_its_value(field: str) -> None:
    text = "x\n\nevent: forged\r\nid: 666"
    fields: dict[str, Any] = {"event": "message", "data": "tok", field: _Lying(text)}
    wire = encode(fields)
    assert wire == encode(ServerSentEvent(**fields)) == encode(dict(fields, **{field: text}))
    data = "x\n\nevent: forged\nid: 666" if field == "data" else "tok"
    assert parse_httpx_sse(wire) == [Parsed("message", data, None)]


def test_a_lying_subclass_cannot_hide_a_lone_surrogate() -> None:
    with pytest.raises(ValueError, match="^id: lone surrogate"):
        ServerSentEvent(id=_Lying("a\ud800"))


# --- what the frozen dataclass promised, kept ------------------------------------------


@pytest.mark.parametrize("name", ["data", "event", "id", "retry", "comment", "_state", "other"])
def test_no_attribute_can_be_set_or_deleted(name: str) -> None:
    event = ServerSentEvent(data="x", event="e")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, name, "forged\n\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(event, name)
    assert encode(event) == b"event: e\ndata: x\n\n"


def test_equal_and_hashed_by_the_five_fields() -> None:
    event = ServerSentEvent(data="x", event="e", id="1", retry=5, comment="c")
    same = ServerSentEvent("x", "e", "1", 5, "c")
    assert event == same and hash(event) == hash(same) and len({event, same}) == 1
    assert event != ServerSentEvent(data="x", event="e", id="1", retry=5)
    assert ServerSentEvent(data="x") != ServerSentEvent(data="x", comment="")
    assert event != ("x", "e", "1", 5, "c") and event != {"data": "x"}


def test_shown_as_its_five_fields() -> None:
    assert repr(ServerSentEvent(data="x", id="1")) == (
        "ServerSentEvent(data='x', event=None, id='1', retry=None, comment=None)"
    )


def test_matched_by_position_and_by_keyword() -> None:
    match ServerSentEvent(data="hi", event="delta"):
        case ServerSentEvent(text, event="delta"):
            assert text == "hi"
        case _:
            pytest.fail("the event did not match")


def test_fields_read_back_as_given() -> None:
    event = ServerSentEvent(data="a\r\nb", event="e", id="", retry=0, comment="c")
    assert (event.data, event.event, event.id, event.retry, event.comment) == (
        "a\r\nb",
        "e",
        "",
        0,
        "c",
    )
    assert not event.is_control and ServerSentEvent(retry=1).is_control
    assert not hasattr(event, "__dict__")


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda e: pickle.loads(pickle.dumps(e))],
)
def test_copied_and_pickled_as_an_equal_event(duplicate: Any) -> None:
    event = ServerSentEvent(data="x\ny", event="e", id="7", retry=3, comment="c")
    twin = duplicate(event)
    assert twin == event and encode(twin) == encode(event)


def test_dataclass_helpers_still_work_and_a_replaced_event_is_checked() -> None:
    event = ServerSentEvent(data="x", event="e", id="1")
    assert dataclasses.is_dataclass(event)
    assert [field.name for field in dataclasses.fields(event)] == list(event.__match_args__)
    assert dataclasses.asdict(event) == {
        "data": "x",
        "event": "e",
        "id": "1",
        "retry": None,
        "comment": None,
    }
    moved = dataclasses.replace(event, id="2")
    assert encode(moved) == b"event: e\nid: 2\ndata: x\n\n" and event.id == "1"
    with pytest.raises(ValueError, match="^id must not contain LF"):
        dataclasses.replace(event, id="2\n\nevent: forged")


# --- ServerSentEvent.json ---------------------------------------------------------------


def test_json_text_from_a_custom_dumps_is_checked_like_any_data() -> None:
    assert encode(ServerSentEvent.json({}, dumps=lambda o: "a\r\nb")) == b"data: a\ndata: b\n\n"
    with pytest.raises(ValueError, match="^data: lone surrogate"):
        ServerSentEvent.json({}, dumps=lambda o: "\ud800")
    lying = ServerSentEvent.json({}, dumps=lambda o: _Lying("a\nb"))
    assert encode(lying) == b"data: a\ndata: b\n\n"


def test_json_bytes_from_a_custom_dumps_must_be_utf8_and_are_named() -> None:
    assert encode(ServerSentEvent.json({}, dumps=lambda o: "é".encode())) == "data: é\n\n".encode()
    with pytest.raises(ValueError, match=r"^dumps returned bytes that are not UTF-8 \(at 1\)"):
        ServerSentEvent.json({}, dumps=lambda o: b"a\xff")
    with pytest.raises(TypeError, match="^dumps must return str or bytes, not int"):
        ServerSentEvent.json({}, dumps=lambda o: 1)  # type: ignore[arg-type, return-value]


def test_json_builds_the_subclass_it_is_called_on() -> None:
    class Tagged(ServerSentEvent):
        __slots__ = ()

    event = Tagged.json({"a": 1}, event="usage")
    assert type(event) is Tagged
    assert encode(event) == b'event: usage\ndata: {"a": 1}\n\n'
    assert event != ServerSentEvent(data=json.dumps({"a": 1}), event="usage")

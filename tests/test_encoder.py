"""Byte-exact tests for the twelve obligations of the wire format, and every refusal.

The numbers in the test names refer to ``shared/reference/sse-wire-format.md``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ssekit import ServerSentEvent, encode, encode_comment, encode_many

# --- 1. UTF-8, no BOM ---------------------------------------------------------


def test_1_utf8_without_bom() -> None:
    wire = encode({"event": "message", "data": "héllo 🦊"})
    assert wire == "event: message\ndata: héllo 🦊\n\n".encode()
    assert not wire.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("field", ["data", "event", "id", "comment"])
def test_1_lone_surrogate_refused_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: lone surrogate"):
        encode({field: "ok\ud800"})


def test_1_lone_surrogate_refused_on_the_fast_path() -> None:
    with pytest.raises(ValueError, match=r"^data: lone surrogate '\\udfff'"):
        encode({"event": "message", "data": "a\udfff"})


def test_1_comment_frame_with_lone_surrogate_refused() -> None:
    with pytest.raises(ValueError, match="^comment: lone surrogate"):
        encode_comment("\ud83d")


# --- 2. split on exactly CRLF, CR, LF; keep empty pieces ------------------------


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        ("", ["data: "]),
        ("a\nb", ["data: a", "data: b"]),
        ("a\n\nb", ["data: a", "data: ", "data: b"]),
        ("\n", ["data: ", "data: "]),
        ("a\r\nb\rc\nd", ["data: a", "data: b", "data: c", "data: d"]),
        ("\r\r\n\n", ["data: ", "data: ", "data: ", "data: "]),
    ],
)
def test_2_data_split_on_the_three_terminators(data: str, lines: list[str]) -> None:
    assert (
        encode({"event": "message", "data": data})
        == ("event: message\n" + "\n".join(lines) + "\n\n").encode()
    )


@pytest.mark.parametrize(
    "separator", ["\u2028", "\u2029", "\x85", "\v", "\f", "\x1c", "\x1d", "\x1e"]
)
def test_2_other_line_breaks_are_data(separator: str) -> None:
    data = f"a{separator}b"
    assert encode({"data": data}) == f"data: {data}\n\n".encode()


# --- 3. CR cannot survive: it arrives as LF -------------------------------------


def test_3_cr_and_crlf_both_arrive_as_lf() -> None:
    assert encode({"data": "a\rb"}) == encode({"data": "a\r\nb"}) == encode({"data": "a\nb"})


# --- 4. the space after the colon ----------------------------------------------


def test_4_space_after_every_colon_keeps_leading_spaces() -> None:
    event = ServerSentEvent(data=" token", event="e", id=" 1", retry=5)
    assert encode(event) == b"event: e\nid:  1\nretry: 5\ndata:  token\n\n"


# --- 5. at least one data line --------------------------------------------------


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        ({"event": "done"}, b"event: done\ndata: \n\n"),
        ({"event": "done", "data": ""}, b"event: done\ndata: \n\n"),
        ({"id": "9"}, b"id: 9\ndata: \n\n"),
        ({}, b"data: \n\n"),
        (ServerSentEvent(), b"data: \n\n"),
        (ServerSentEvent(event="done"), b"event: done\ndata: \n\n"),
    ],
)
def test_5_every_dispatched_event_has_a_data_line(event: Any, wire: bytes) -> None:
    assert encode(event) == wire


# --- 6. one blank line; the value's own trailing newlines kept -----------------


def test_6_trailing_newline_of_the_value_is_kept() -> None:
    assert encode({"data": "x\n"}) == b"data: x\ndata: \n\n"
    assert encode({"data": "x"}).endswith(b"x\n\n")
    assert not encode({"data": "x"}).endswith(b"\n\n\n")


# --- 7. no CR/LF/NUL in event or id ----------------------------------------------


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize(("char", "label"), [("\r", "CR"), ("\n", "LF"), ("\0", "NUL")])
def test_7_line_breaks_and_nul_refused_in_event_and_id(field: str, char: str, label: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^{field} must not contain {label} \(found at index 1\)"
    ):
        encode({field: f"x{char}event: forged", "data": "d"})
    with pytest.raises(ValueError, match=rf"^{field} must not contain {label}"):
        ServerSentEvent(**{field: f"x{char}"})  # type: ignore[arg-type]


def test_7_empty_event_name_refused() -> None:
    with pytest.raises(ValueError, match="^event must not be empty"):
        encode({"event": "", "data": "x"})


def test_7_empty_id_is_allowed_it_resets_the_last_event_id() -> None:
    assert encode({"id": "", "data": "x"}) == b"id: \ndata: x\n\n"


# --- 8. retry: a non-negative int ----------------------------------------------


def test_8_retry_written_in_ascii_digits() -> None:
    assert encode({"retry": 0}) == b"retry: 0\n"
    assert encode({"retry": 2500, "data": "x"}) == b"retry: 2500\ndata: x\n\n"


@pytest.mark.parametrize(
    ("retry", "error"),
    [(True, TypeError), (False, TypeError), (1.5, TypeError), ("100", TypeError), (-1, ValueError)],
)
def test_8_bad_retry_refused(retry: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="^retry must be a non-negative int"):
        encode({"retry": retry, "data": "x"})


# --- 9. comments: one ':' line per line -----------------------------------------


def test_9_comment_lines_split_on_the_three_terminators() -> None:
    assert encode_comment("a\r\nb\rc\nd") == b": a\n: b\n: c\n: d\n"
    assert encode_comment("") == b":\n"
    assert encode_comment("x\n") == b": x\n:\n"


def test_9_comment_cannot_forge_an_event() -> None:
    wire = encode_comment("ok\n\ndata: forged\n\n")
    assert all(line.startswith(b":") for line in wire.splitlines())


def test_9_comment_frame_is_written_by_its_value_not_a_subclass_split() -> None:
    class Lying(str):
        def split(self, sep: Any = None, maxsplit: Any = -1) -> list[str]:
            return [str.__str__(self)]

        def __contains__(self, item: object) -> bool:
            return False

    assert encode_comment(Lying("a\r\nevent: forged")) == b": a\n: event: forged\n"


def test_9_comment_inside_an_event_comes_first() -> None:
    assert encode(ServerSentEvent(data="x", comment="note")) == b": note\ndata: x\n\n"


# --- 10. LF only ------------------------------------------------------------------


def test_10_lf_is_the_only_terminator() -> None:
    wire = encode_many(
        [
            {"event": "a", "data": "1\r\n2\r3"},
            ServerSentEvent(data="\r", comment="c\r\nd", id="i", retry=1),
            {"retry": 5},
        ]
    )
    assert b"\r" not in wire


# --- 11. control frames have no blank line --------------------------------------


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (ServerSentEvent(comment="ping"), b": ping\n"),
        (ServerSentEvent(retry=3000), b"retry: 3000\n"),
        (ServerSentEvent(comment="x", retry=1), b": x\nretry: 1\n"),
        ({"comment": "ping"}, b": ping\n"),
    ],
)
def test_11_control_frames_do_not_dispatch(event: Any, wire: bytes) -> None:
    assert encode(event) == wire


def test_11_keep_alive_comment() -> None:
    assert encode_comment("ping") == b": ping\n"


# --- 12. no stray blank lines; one piece per event ------------------------------


def test_12_encode_many_is_the_concatenation() -> None:
    events = [{"event": "message", "data": "a"}, {"comment": "k"}, {"event": "done"}]
    assert encode_many(events) == b"event: message\ndata: a\n\n: k\nevent: done\ndata: \n\n"
    assert b"\n\n\n" not in encode_many(events)
    assert encode_many([]) == b""


def test_12_a_bad_event_in_a_batch_writes_nothing() -> None:
    with pytest.raises(TypeError, match="data must be str"):
        encode_many([{"data": "ok"}, {"data": None}])


# --- refusals -----------------------------------------------------------------


@pytest.mark.parametrize("data", [None, 1, b"bytes", {"a": 1}, ["x"], 1.0])
def test_non_str_data_refused_without_repr(data: object) -> None:
    with pytest.raises(TypeError, match=rf"^data must be str, not {type(data).__name__}$"):
        encode({"event": "message", "data": data})


@pytest.mark.parametrize(("field", "value"), [("event", 1), ("id", 7), ("comment", b"x")])
def test_non_str_fields_refused(field: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"^{field} must be str, not {type(value).__name__}$"):
        encode({field: value, "data": "x"})


def test_unknown_keys_are_named() -> None:
    with pytest.raises(TypeError, match=r"^unknown event field\(s\) 'colour', 'type'; allowed: "):
        encode({"type": "x", "data": "y", "colour": 1})


@pytest.mark.parametrize("thing", ["data: x", b"data: x", 3, None, [("data", "x")]])
def test_non_events_refused(thing: object) -> None:
    with pytest.raises(TypeError, match="^an event must be a dict or ServerSentEvent"):
        encode(thing)  # type: ignore[arg-type]


def test_comment_must_be_str() -> None:
    with pytest.raises(TypeError, match="^comment must be str, not int$"):
        encode_comment(1)  # type: ignore[arg-type]


# --- the event model ------------------------------------------------------------


def test_event_is_immutable_and_slotted() -> None:
    event = ServerSentEvent(data="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_from_mapping_builds_the_same_event() -> None:
    fields = {"event": "e", "data": "d", "id": "1", "retry": 2, "comment": "c"}
    assert ServerSentEvent.from_mapping(fields) == ServerSentEvent(**fields)  # type: ignore[arg-type]
    assert encode(fields) == encode(ServerSentEvent(**fields))  # type: ignore[arg-type]


def test_json_helper_serialises_explicitly() -> None:
    event = ServerSentEvent.json({"text": "a\nb", "n": 1}, event="delta", id="3")
    assert event == ServerSentEvent(data='{"text": "a\\nb", "n": 1}', event="delta", id="3")
    assert encode(event) == b'event: delta\nid: 3\ndata: {"text": "a\\nb", "n": 1}\n\n'


def test_json_helper_takes_a_pluggable_dumps() -> None:
    event = ServerSentEvent.json([1, 2], dumps=lambda obj: json.dumps(obj).encode())
    assert event.data == "[1, 2]"
    compact = ServerSentEvent.json({"a": 1}, dumps=lambda o: json.dumps(o, separators=(",", ":")))
    assert compact.data == '{"a":1}'


def test_json_helper_refuses_a_dumps_returning_something_else() -> None:
    with pytest.raises(TypeError, match="^dumps must return str or bytes, not int$"):
        ServerSentEvent.json({}, dumps=lambda obj: 1)  # type: ignore[arg-type,return-value]


def test_json_helper_propagates_unserialisable_objects() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        ServerSentEvent.json(object())

"""Hostile input to the encoder: arbitrary Python values and adversarial tokens.

Only the documented ``TypeError``/``ValueError`` may come out; whatever is
accepted must read back exactly through a parser we did not write; no token
can forge an event, end a stream early or change an id.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssekit import ServerSentEvent, encode, encode_comment, encode_many
from tests.support.parsers import NodeParser, Parsed, parse_httpx_sse

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.binary(max_size=8)
    | st.characters(),  # lone surrogates included
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_keys = st.sampled_from(["event", "data", "id", "retry", "comment", "Data", "type", ""]) | st.text(
    max_size=4
)
_dicts = st.dictionaries(_keys, _values, max_size=6)

_fuzz = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _received(data: str) -> str:
    return data.replace("\r\n", "\n").replace("\r", "\n")


@_fuzz
@given(st.one_of(_dicts, _values))
def test_arbitrary_values_are_encoded_or_refused_with_the_documented_errors(value: Any) -> None:
    try:
        wire = encode(value)
    except (TypeError, ValueError):
        return
    # Accepted: it was a valid event, and a parser we did not write reads it back.
    event = value if isinstance(value, ServerSentEvent) else ServerSentEvent(**value)
    parsed = parse_httpx_sse(wire)
    if event.is_control:
        assert parsed == []
    else:
        assert parsed == [Parsed(event.event or "message", _received(event.data), event.id or None)]


@_fuzz
@given(st.dictionaries(st.sampled_from(["event", "data", "id", "retry", "comment"]), _values))
def test_arbitrary_field_values_never_produce_partial_output(fields: dict[str, Any]) -> None:
    try:
        built = ServerSentEvent(**fields)
    except (TypeError, ValueError) as exc:
        refusal = exc
    else:
        assert encode(fields) == encode(built)
        return
    # The dict path refuses it too, with the same error and message.
    with pytest.raises(type(refusal)) as again:
        encode(fields)
    assert str(again.value) == str(refusal)


@_fuzz
@given(st.one_of(st.text(), st.binary(max_size=4), st.integers(), st.none()))
def test_comments_only_refuse_with_documented_errors(value: Any) -> None:
    try:
        wire = encode_comment(value)
    except (TypeError, ValueError):
        return
    assert all(line.startswith(b":") for line in wire.split(b"\n")[:-1])
    assert wire.endswith(b"\n")
    assert parse_httpx_sse(wire + encode({"data": "after"})) == [Parsed("message", "after", None)]


ADVERSARIAL_TOKENS = [
    "\n\nevent: done\ndata: x",
    "\r\revent: done\rdata: x\r\r",
    "\r\n\r\nevent: done\r\ndata: x\r\n\r\n",
    "\n\nid: 666\n\n",
    "\n\nretry: 1\n\n",
    ": comment\n\n",
    "\u2028event: done\u2029",
    "\x85data: x",
    "nul\0in the middle",
    "\ufeffbom at the start",
    "data: not a field",
    "\n",
    "\r",
    "",
    " ",
]


def test_adversarial_tokens_cannot_forge_events_or_change_ids(node_parser: NodeParser) -> None:
    events = [{"event": "message", "data": token} for token in ADVERSARIAL_TOKENS]
    wire = encode(ServerSentEvent(data="start", id="1")) + encode_many(events)
    wire += encode({"event": "done", "data": ""})
    want_httpx = [Parsed("message", "start", "1")]
    want_httpx += [Parsed("message", _received(t), "1") for t in ADVERSARIAL_TOKENS]
    want_httpx += [Parsed("done", "", "1")]
    for chunk in (0, 1, 2, 5):
        assert parse_httpx_sse(wire, chunk) == want_httpx
        # eventsource-parser reports each event's own id line (a named deviation).
        assert node_parser.parse(wire, chunk) == [
            Parsed(p.event, p.data, "1" if i == 0 else None) for i, p in enumerate(want_httpx)
        ]


@_fuzz
@given(st.lists(st.text(), min_size=1, max_size=8))
def test_no_token_sequence_ends_the_stream_early(tokens: list[str]) -> None:
    """Whatever the tokens, the parser sees exactly one event per token, then done."""
    try:
        wire = encode_many([{"event": "message", "data": t} for t in tokens])
    except ValueError:  # a lone surrogate among them: refused, nothing written
        return
    wire += encode({"event": "done"})
    parsed = parse_httpx_sse(wire, 3)
    assert [p.event for p in parsed] == ["message"] * len(tokens) + ["done"]
    assert [p.data for p in parsed[:-1]] == [_received(t) for t in tokens]


class _Masked(str):
    """A str whose own ``__str__``/``__format__`` would forge an event if written."""

    def __str__(self) -> str:
        return "x\n\nevent: done\nid: 666\ndata: forged"

    def __format__(self, spec: str) -> str:
        return str(self)


@pytest.mark.parametrize("field", ["data", "event", "id", "comment"])
@pytest.mark.parametrize("kind", ["dict", "ServerSentEvent"])
def test_a_str_subclass_is_written_by_its_value(field: str, kind: str) -> None:
    encode({"event": "message", "data": "warm"})  # the hot path's prefix is cached
    value = "hi" if field != "event" else "message"
    fields: dict[str, Any] = {"event": "message", "data": "tok"}
    fields[field] = _Masked(value)
    event = fields if kind == "dict" else ServerSentEvent(**fields)
    plain = dict(fields, **{field: value})
    assert encode(event) == encode(plain)
    assert b"forged" not in encode(event)

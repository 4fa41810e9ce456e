"""Arbitrary events, encoded by ssekit, read back by parsers we did not write.

What a spec-compliant client dispatches is computed from the events alone
(``expected``); each independent parser must report exactly that, whole and fed
in small chunks, up to a short list of named deviations of that parser.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssekit import ServerSentEvent, encode, encode_many
from tests.support.parsers import NodeParser, Parsed, parse_httpx_sse

# Text a Python str can hold and UTF-8 can carry: everything but lone surrogates.
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
# Bias towards the characters that matter on this wire.
_tricky = st.lists(
    st.sampled_from(
        ["\r", "\n", "\r\n", " ", ":", "\0", "\u2028", "\x85", "\ufeff", "é", "🦊", "a"]
    ),
    max_size=12,
).map("".join)
_data = st.one_of(_text, _tricky, st.lists(_tricky, max_size=4).map("".join))
_single_line = st.one_of(_text, _tricky).map(
    lambda s: s.replace("\r", "").replace("\n", "").replace("\0", "")
)

events = st.builds(
    ServerSentEvent,
    data=_data,
    event=st.none() | _single_line.filter(bool),
    id=st.none() | _single_line,
    retry=st.none() | st.integers(min_value=0, max_value=2**40),
    comment=st.none() | _data,
)


def _as_received(data: str) -> str:
    return data.replace("\r\n", "\n").replace("\r", "\n")


def expected(sent: list[ServerSentEvent], *, ids_persist: bool = True) -> list[Parsed]:
    """What the WHATWG algorithm dispatches for these events."""
    out: list[Parsed] = []
    last_id: str | None = None
    for event in sent:
        if event.id is not None:
            last_id = event.id or None  # an empty id resets the last event id
        if event.is_control:
            continue
        event_id = last_id if ids_persist else (event.id or None)
        out.append(Parsed(event.event or "message", _as_received(event.data), event_id))
    return out


_examples = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_examples
@given(st.lists(events, max_size=5), st.sampled_from([0, 1, 2, 3, 7]))
def test_httpx_sse_reads_back_what_was_sent(sent: list[ServerSentEvent], chunk: int) -> None:
    assert parse_httpx_sse(encode_many(sent), chunk) == expected(sent)


@_examples
@given(st.lists(events, max_size=5), st.sampled_from([0, 1, 2, 3, 7]))
def test_eventsource_parser_reads_back_what_was_sent(
    node_parser: NodeParser, sent: list[ServerSentEvent], chunk: int
) -> None:
    # Named deviation: eventsource-parser reports each event's own id line
    # instead of the persisted last event id.
    assert node_parser.parse(encode_many(sent), chunk) == expected(sent, ids_persist=False)


@_examples
@given(event_name=_single_line.filter(bool), data=_data)
def test_seed_dicts_read_back_exactly(node_parser: NodeParser, event_name: str, data: str) -> None:
    wire = encode({"event": event_name, "data": data})
    want = [Parsed(event_name, _as_received(data), None)]
    assert parse_httpx_sse(wire, 1) == want
    assert node_parser.parse(wire, 1) == want


def test_node_parser_sees_a_forged_event_as_data(node_parser: NodeParser) -> None:
    """A token crafted to look like a frame stays inside its own event."""
    token = "\n\nevent: done\ndata: x\n\nid: 666\n"
    wire = encode({"event": "message", "data": token}) + encode({"event": "done"})
    want = [Parsed("message", token.replace("\r", ""), None), Parsed("done", "", None)]
    assert node_parser.parse(wire) == want
    assert parse_httpx_sse(wire) == want

"""Hand-written ``text/event-stream`` bodies that exercise a parser's corner cases.

These bytes are written by hand, not by ssekit's encoder: they test the JS
client's parser (and Chromium's ``EventSource``), including inputs our encoder
would never produce. Each stream is a tuple of chunks; the server sends every
chunk as its own write, with a short sleep in between, so the chunk boundaries
really occur on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


class Event(TypedDict, total=False):
    """An event as the JS client reports it (``retry`` only when the block set one)."""

    event: str
    data: str
    id: str
    retry: int


def ev(data: str, event: str = "message", id: str = "", retry: int | None = None) -> Event:
    out: Event = {"event": event, "data": data, "id": id}
    if retry is not None:
        out["retry"] = retry
    return out


def every(body: bytes, size: int) -> tuple[bytes, ...]:
    """``body`` cut into chunks of ``size`` bytes."""
    return tuple(body[i : i + size] for i in range(0, len(body), size))


@dataclass(frozen=True)
class TrickyStream:
    name: str
    chunks: tuple[bytes, ...]
    #: What a spec-exact parser reports, or None where only the agreement with
    #: ``EventSource`` is checked (generated data is then checked by ``check``).
    expected: tuple[Event, ...]
    #: The reconnection time (ms) the stream leaves behind, ``None`` when it sets none.
    reconnection_time: int | None = None
    #: The last event ID the stream leaves behind (what a reconnect sends back).
    last_event_id: str = ""
    #: Seconds between chunks.
    pause: float = 0.01

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


_EMOJI = "😀".encode()  # F0 9F 98 80
_LARGE_TEXT = ("ssé€😀 " * 30_000)[:150_000]
_MANY = 600

STREAMS: tuple[TrickyStream, ...] = (
    TrickyStream(
        "lf",
        every(b"data: hello\n\ndata: world\n\n", 5),
        (ev("hello"), ev("world")),
    ),
    TrickyStream(
        "crlf",
        every(b"data: a\r\ndata: b\r\n\r\nevent: x\r\ndata: c\r\n\r\n", 4),
        (ev("a\nb"), ev("c", "x")),
    ),
    TrickyStream(
        "lone-cr",
        every(b"data: a\rdata: b\r\rid: 1\rdata: c\r\r", 3),
        (ev("a\nb"), ev("c", id="1")),
        last_event_id="1",
    ),
    TrickyStream(
        "mixed-terminators",
        every(b"data: a\n\r\ndata: b\r\n\ndata: c\r\r\ndata: d\n\rdata: e\n\n", 3),
        (ev("a"), ev("b"), ev("c"), ev("d"), ev("e")),
    ),
    TrickyStream(
        # A CRLF split between chunks is one line end, not a line end plus a blank line.
        "crlf-split",
        (b"data: a\r", b"\ndata: b\r", b"\n\r", b"\ndata: c\r", b"\n", b"\r", b"\n"),
        (ev("a\nb"), ev("c")),
    ),
    TrickyStream(
        # A lone CR at a chunk end followed by something other than LF still ends the line.
        "cr-at-chunk-end",
        (b"data: a\r", b"data: b\r", b"\r", b"data: c\r", b"\rdata: d\r", b"\r"),
        (ev("a\nb"), ev("c"), ev("d")),
    ),
    TrickyStream(
        "utf8-split",
        (
            b"data: " + _EMOJI[:1],
            _EMOJI[1:2],
            _EMOJI[2:3],
            _EMOJI[3:] + b" caf\xc3",
            b"\xa9 \xe2\x82",
            b"\xac\n\n",
        ),
        (ev("😀 café €"),),
    ),
    TrickyStream(
        "invalid-utf8",
        (b"data: a\xffb\n\n", b"data: \xf0\x9f\n\n", b"data: \xc3", b"(\n\n"),
        (ev("a\ufffdb"), ev("\ufffd"), ev("\ufffd(")),
    ),
    TrickyStream(
        # One leading BOM is stripped; a second one is data (here it spoils a field name).
        "bom",
        every(b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\ndata: \xef\xbb\xbfc\n\n", 2),
        (ev("a"), ev("\ufeffc")),
    ),
    TrickyStream(
        "bom-split",
        (b"\xef", b"\xbb", b"\xbf", b"data: a\n\n"),
        (ev("a"),),
    ),
    TrickyStream(
        "multiline-data",
        every(b"data: line1\ndata: line2\ndata:\ndata: line4\n\n", 6),
        (ev("line1\nline2\n\nline4"),),
    ),
    TrickyStream(
        "empty-data-lines",
        every(b"data\n\ndata:\ndata:\n\ndata: \n\ndata:  \n\n", 4),
        (ev(""), ev("\n"), ev(""), ev(" ")),
    ),
    TrickyStream(
        "comments",
        every(b": hello\n:\ndata: a\n: mid\ndata: b\n\n: only a comment\n\n:no space\n", 5),
        (ev("a\nb"),),
    ),
    TrickyStream(
        "field-without-colon",
        every(b"event: foo\nevent\ndata: x\n\nid: 5\nid\ndata: y\n\ndata\ndata\n\n", 4),
        (ev("x"), ev("y"), ev("\n")),
    ),
    TrickyStream(
        "no-space",
        every(b"data:a\nevent:named\nid:7\n\ndata::x\n\n", 3),
        (ev("a", "named", "7"), ev(":x", id="7")),
        last_event_id="7",
    ),
    TrickyStream(
        "leading-spaces",
        every(b"data:  two\n\ndata:\ttab\n\ndata: a: b:c\n\nevent:  spaced\ndata: s\n\n", 4),
        (ev(" two"), ev("\ttab"), ev("a: b:c"), ev("s", " spaced")),
    ),
    TrickyStream(
        "id-with-nul",
        every(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", 3),
        (ev("a", id="1"), ev("b", id="1")),
        last_event_id="1",
    ),
    TrickyStream(
        # The id persists; an id-only block sets it without dispatching; an empty id resets it.
        "id-persistence",
        every(
            b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n"
            b"id: 3\n\ndata: e\n\nid:\ndata: f\n\nid: 4\ndata: g\n\nid: last\n\n",
            7,
        ),
        (
            ev("a", id="1"),
            ev("b", id="1"),
            ev("c", id="2"),
            ev("d"),
            ev("e", id="3"),
            ev("f"),
            ev("g", id="4"),
        ),
        last_event_id="last",
    ),
    TrickyStream(
        # Only all-ASCII-digit values count: the reconnect delay stays 80 ms.
        "retry-invalid",
        every(
            b"retry: 80\ndata: a\n\nretry: 9000x\ndata: b\n\nretry: -1\nretry: 1e3\n"
            b"retry:  90\nretry: 9.5\nretry: \xd9\xa1\ndata: c\n\n",
            5,
        ),
        (ev("a", retry=80), ev("b"), ev("c")),
        reconnection_time=80,
    ),
    TrickyStream(
        # An empty retry value is not "only ASCII digits" either: the delay stays 1500 ms.
        "retry-empty",
        every(b"retry: 1500\ndata: a\n\nretry:\nretry\ndata: b\n\n", 5),
        (ev("a", retry=1500), ev("b")),
        reconnection_time=1500,
    ),
    TrickyStream(
        # A retry-only frame (no blank line, as ssekit writes it) rides on the next event.
        "retry-frame",
        every(b"retry: 60\ndata: a\n\n: ping\nretry: 70\n\ndata: b\n\n", 4),
        (ev("a", retry=60), ev("b", retry=70)),
        reconnection_time=70,
    ),
    TrickyStream(
        "unknown-fields",
        every(b"foo: bar\nDATA: upper\nData: x\n data: lead\nevent : sp\ndata: kept\n\n", 6),
        (ev("kept"),),
    ),
    TrickyStream(
        "event-without-data",
        every(b"event: lonely\n\nevent: lonely\nid: 9\n\ndata: after\n\n", 5),
        (ev("after", id="9"),),
        last_event_id="9",
    ),
    TrickyStream(
        "unterminated-lf",
        every(b"data: a\n\ndata: b\n", 4),
        (ev("a"),),
    ),
    TrickyStream(
        # The id of a block the stream never ends is not committed (no Last-Event-ID on reconnect).
        "unterminated-no-newline",
        every(b"data: a\n\nid: 5\ndata: b", 4),
        (ev("a"),),
    ),
    TrickyStream(
        "unterminated-cr",
        (b"data: a\r\r", b"data: b\r"),
        (ev("a"),),
    ),
    TrickyStream(
        "event-names",
        every(
            "event: token\ndata: t1\n\nevent: status\ndata: s\n\ndata: plain\n\n"
            "event: message\ndata: m\n\nevent: ünïcode\ndata: u\n\nevent: error\ndata: e\n\n"
            "event: done\ndata:\n\n".encode(),
            9,
        ),
        (
            ev("t1", "token"),
            ev("s", "status"),
            ev("plain"),
            ev("m"),
            ev("u", "ünïcode"),
            ev("e", "error"),
            ev("", "done"),
        ),
    ),
    TrickyStream(
        "nul-and-controls-in-data",
        every(b"data: a\x00b\x0bc\x0cd\xc2\x85e\xe2\x80\xa8f\n\n", 4),
        (ev("a\x00b\x0bc\x0cd\x85e\u2028f"),),
    ),
    TrickyStream(
        "blank-lines-only",
        every(b"\n\n\r\n\r\r\n\ndata: x\n\n\n\n", 2),
        (ev("x"),),
    ),
    TrickyStream(
        "byte-by-byte",
        every(b"id: 42\r\nevent: t\r\ndata: \xf0\x9f\x98\x80\r\ndata:  x\r\n\r\n", 1),
        (ev("😀\n x", "t", "42"),),
        last_event_id="42",
        pause=0.004,
    ),
    TrickyStream(
        "large-event",
        every(b"data: " + _LARGE_TEXT.encode() + b"\n\ndata: after\n\n", 4093),
        (ev(_LARGE_TEXT), ev("after")),
        pause=0.002,
    ),
    TrickyStream(
        "many-small-events",
        every(b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(_MANY)), 37),
        tuple(ev(str(i), id=str(i)) for i in range(_MANY)),
        last_event_id=str(_MANY - 1),
        pause=0.001,
    ),
)

BY_NAME = {stream.name: stream for stream in STREAMS}

#: Every event type the streams use: ``EventSource`` needs a listener per type.
EVENT_NAMES: tuple[str, ...] = tuple(
    sorted({event["event"] for stream in STREAMS for event in stream.expected} - {"message"})
)

"""The hostile-HTTP suite's requests and targets (tests/reliability/test_http_hostile.py).

A request is described small (``Ask``: method, framing, content type, body kind
and size or depth, query) and built into bytes here, so that a failing
hypothesis example reads as the request, not as megabytes of body. ``documented``
is what docs/serving.md says the answer is, written from the docs, not from the
parser. The targets are ``chat_app`` and the demo on every framework, each with
the limits below and its own recording bot.

[RecordingBot][tests.support.hostile_http.RecordingBot],
[post_json][tests.support.hostile_http.post_json] and `JSON` (any JSON value, a hypothesis
strategy) also serve the protocols' own hostile tests (tests/protocols/test_*_hostile.py).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st

from ssekit import chat_app
from ssekit.demo import demo_app
from tests.support.servers import Server, serve

MAX_BODY = 1024 * 1024  # room for 100,000-deep bodies under the limit
MAX_MESSAGES = 3
MAX_MESSAGE_LENGTH = 50
TARGETS = ("chat_app", "asgi", "starlette", "litestar", "quart")
#: Any small JSON value (the protocols' hypothesis bodies: a field's value can be anything).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


class RecordingBot:
    """Counts its calls: a refused request must never reach it."""

    model_name = "recording"

    def __init__(self) -> None:
        self.calls = 0

    def __repr__(self) -> str:
        return f"RecordingBot(calls={self.calls})"

    async def stream_async(self, *messages: str) -> Any:
        self.calls += 1
        yield "ok"


def post_json(http: httpx.Client, body: Any, path: str = "") -> httpx.Response:
    """`body` as JSON, whatever it is (`null` included: `json=None` would send no body)."""
    return http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


@dataclass(frozen=True)
class Target:
    port: int
    bot: RecordingBot


@contextlib.contextmanager
def serving_targets(
    server: Server, names: tuple[str, ...] = TARGETS
) -> Iterator[dict[str, Target]]:
    """Every target served by ``server`` on its own port, until the block ends."""
    with contextlib.ExitStack() as stack:
        targets = {}
        for name in names:
            bot = RecordingBot()
            targets[name] = Target(stack.enter_context(serve(app_for(name, bot), server)).port, bot)
        yield targets


def app_for(name: str, bot: RecordingBot) -> Any:
    """``chat_app``, or the demo on framework ``name``, with the suite's limits."""
    limits: dict[str, Any] = {
        "max_body": MAX_BODY,
        "max_messages": MAX_MESSAGES,
        "max_message_length": MAX_MESSAGE_LENGTH,
    }
    if name == "chat_app":
        return chat_app(bot, ping=None, **limits)
    return demo_app(bot, name, **limits)


@dataclass(frozen=True)
class Nested:
    """A JSON body ``depth`` levels deep, bare or as the value of ``messages``."""

    kind: str  # "array", "object" or "mixed"
    depth: int
    wrapped: bool

    def build(self) -> bytes:
        opening, closing = {"array": ("[", "]"), "object": ('{"a":', "}")}.get(
            self.kind, ('[{"a":', "}]")
        )
        value = opening * self.depth + '"x"' + closing * self.depth
        return (f'{{"messages": {value}}}' if self.wrapped else value).encode()


@dataclass(frozen=True)
class Sized:
    """``{"messages": ["xx..."]}`` of exactly ``size`` bytes."""

    size: int

    def build(self) -> bytes:
        return b'{"messages": ["' + b"x" * (self.size - 18) + b'"]}'


@dataclass(frozen=True)
class Ask:
    """One request, described in a few words (a failing example's report)."""

    method: str
    #: content-length, chunked, none (no body), short/long (a content-length that lies:
    #: half the body / 10 bytes more, then the client half-closes), or a WebSocket upgrade.
    framing: str
    content_type: str
    body: bytes | Nested | Sized
    #: The query, or the length of a ``message=aaa...`` one.
    query: bytes | int
    finished: bool

    def body_bytes(self) -> bytes:
        if self.framing in ("none", "websocket"):
            return b""
        return self.body if isinstance(self.body, bytes) else self.body.build()

    def query_bytes(self) -> bytes:
        return self.query if isinstance(self.query, bytes) else b"message=" + b"a" * self.query

    def declared(self) -> int | None:
        size = len(self.body_bytes())
        return {"length": size, "short": size // 2, "long": size + 10}.get(self.framing)


def request_bytes(ask: Ask) -> tuple[bytes, bytes]:
    """The head and the body to send (none when the declared length alone gets it refused)."""
    lines = [f"{ask.method} /chat?".encode() + ask.query_bytes() + b" HTTP/1.1", b"Host: x"]
    lines.append(b"Connection: close")
    if ask.framing == "websocket":
        lines += [b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Version: 13"]
        lines.append(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    if ask.content_type:
        lines.append(b"Content-Type: " + ask.content_type.encode())
    if ask.finished:
        lines.append(b"Last-Event-ID: ssekit-finished")
    body = ask.body_bytes()
    declared = ask.declared()
    if declared is not None:
        lines.append(b"Content-Length: %d" % declared)
        body = b"" if declared > MAX_BODY else body
    elif ask.framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        size = 1000 if len(body) < 100_000 else 65536
        parts = [body[start : start + size] for start in range(0, len(body), size)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n", body


def exchange(port: int, head: bytes, body: bytes, *, half_close: bool = False) -> bytes:
    """Send; stop sending once an answer has come; read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for start in range(0, len(body), 65536):
            if select.select([sock], [], [], 0)[0]:
                break  # answered already (a refusal before the end of the body)
            try:
                sock.sendall(body[start : start + 65536])
            except OSError:
                break
        if half_close:
            with contextlib.suppress(OSError):  # unless the server has closed already
                sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        with contextlib.suppress(ConnectionResetError):  # closed with our body unread
            while data := sock.recv(65536):
                received += data
    return bytes(received)


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str | None
    allow: str | None
    content: Any  # the parsed JSON, or the body's text

    @property
    def from_the_server(self) -> bool:
        """uvicorn refused the request itself (an unparsable request line): no app ran."""
        refusal = (None, "Invalid HTTP request received.")  # None: a HEAD's
        plain = (self.content_type or "").startswith("text/plain")
        return self.status == 400 and plain and self.content in refusal


def first_answer(raw: bytes, method: str) -> Answer | None:
    """The first response in ``raw`` (``None`` if the server sent nothing), its body decoded."""
    if not raw:
        return None
    head, found, rest = raw.partition(b"\r\n\r\n")
    assert found, raw[:300]
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    status, media = int(status_line.split()[1]), headers.get("content-type")
    if method == "HEAD":
        return Answer(status, media, headers.get("allow"), None)
    if "content-length" in headers:
        rest = rest[: int(headers["content-length"])]
    elif headers.get("transfer-encoding") == "chunked":
        rest = dechunked(rest)
    content = json.loads(rest) if media == "application/json" else rest.decode()
    return Answer(status, media, headers.get("allow"), content)


def dechunked(data: bytes) -> bytes:
    body = bytearray()
    while (size := int(data[: data.index(b"\r\n")], 16)) > 0:
        start = data.index(b"\r\n") + 2
        body += data[start : start + size]
        data = data[start + size + 2 :]
    return bytes(body)


# -- what docs/serving.md says the answer is -------------------------------------------


def documented(ask: Ask) -> int | None:
    """The status for ``ask``; ``None`` where the app waits for body bytes that never come."""
    if ask.framing == "websocket":
        return 403
    if ask.method not in ("GET", "HEAD", "POST"):
        return 405
    if ask.finished:
        return 204
    media = ask.content_type.split(";")[0].strip().lower()
    if ask.method == "POST" and media != "application/json" and not media.endswith("+json"):
        return 415
    body, declared = ask.body_bytes(), ask.declared()
    if declared is not None and declared > MAX_BODY:
        return 413
    if ask.framing == "long":
        return None
    delivered = body[:declared] if declared is not None else body
    if len(delivered) > MAX_BODY:
        return 413
    messages = posted(delivered) if ask.method == "POST" else queried(ask.query_bytes())
    if not messages or len(messages) > MAX_MESSAGES:
        return 400
    return 200 if all(len(m) <= MAX_MESSAGE_LENGTH for m in messages) else 400


def posted(body: bytes) -> list[str] | None:
    """The messages of a valid body: UTF-8 JSON, at most 32 levels deep, the documented shape."""
    try:
        payload = json.loads(body.decode("utf-8-sig"))
        if depth(payload) > 32:
            return None
    except (ValueError, RecursionError):
        return None
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        return messages
    return None


def depth(value: Any) -> int:
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, (dict, list)):
        return 0
    return 1 + max(map(depth, children), default=0)


def queried(query: bytes) -> list[str] | None:
    """The messages of a valid query: UTF-8, at least one non-empty ``message``."""
    try:
        text = query.decode("utf-8")
        fields = urllib.parse.parse_qs(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return None
    messages = fields.get("message", [])
    return messages if any(messages) else None

"""Just enough ASGI for a response and an app: types, headers, JSON errors, request bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, NamedTuple, TypeAlias, TypeVar

import anyio

from ._exceptions import RequestTooLarge

__all__ = [
    "Answer",
    "Headers",
    "Message",
    "Receive",
    "RequestTooLarge",
    "Scope",
    "Send",
    "check_headers",
    "error_body",
    "header",
    "json_answer",
    "json_error_headers",
    "json_text",
    "last_event_id",
    "read_body",
    "refuse_non_http",
    "response_headers",
    "send_answer",
    "send_json_error",
    "send_status",
    "unless_client_leaves",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
_T = TypeVar("_T")

#: Extra response headers: a mapping or (name, value) pairs of ``str``.
Headers: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"


def check_headers(headers: Headers | None) -> list[tuple[bytes, bytes]]:
    """Validate user headers (``str`` names and values, no CR/LF/NUL) and encode them."""
    if headers is None:
        return []
    if isinstance(headers, (str, bytes)):
        raise TypeError("headers must be a mapping or (name, value) pairs, not a string")
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    encoded = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"headers: each header must be a (name, value) pair, not {pair!r}")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"headers: name and value must be str, not {name!r}: {value!r}")
        if not name or any(c in name for c in ":\r\n\0 \t"):
            raise ValueError(f"headers: invalid header name {name!r}")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"headers: the value of {name!r} must not contain CR, LF or NUL")
        try:
            encoded.append((name.lower().encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise ValueError(f"headers: {name!r} cannot be sent as HTTP header bytes") from None
    return encoded


def merge_headers(
    defaults: list[tuple[bytes, bytes]], overrides: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``defaults`` with any header named in ``overrides`` replaced, then ``overrides``."""
    names = {name for name, _ in overrides}
    return [pair for pair in defaults if pair[0] not in names] + overrides


def response_headers(
    defaults: list[tuple[bytes, bytes]], headers: Headers | None
) -> list[tuple[bytes, bytes]]:
    """``defaults``, with the user's ``headers`` (checked, encoded) sent instead of any of
    the same name: the headers a response starts with."""
    return merge_headers(defaults, check_headers(headers))


def header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower-case bytes), or ``None``."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def last_event_id(scope: Mapping[str, Any]) -> str | None:
    """The ``Last-Event-ID`` a reconnecting ``EventSource`` sent, or ``None``.

    Browsers send back the last ``id`` they received, UTF-8 encoded; an empty
    value (an ``id:`` reset) counts as none.
    """
    value = header(scope, b"last-event-id")
    if value is None:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return text.strip(" \t") or None


def error_body(status: int, message: str) -> bytes:
    """The JSON body of every error ssekit answers with: ``{"error": {"status", "message"}}``."""
    return json.dumps({"error": {"status": status, "message": message}}).encode("utf-8")


async def send_status(
    send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """A whole, non-streamed response."""
    raw = [*headers]
    if status not in (204, 304):
        raw.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def json_error_headers(
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> list[tuple[bytes, bytes]]:
    """The headers of every JSON error ssekit answers with, then ``extra``."""
    return [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *extra]


class Answer(NamedTuple):
    """A whole HTTP answer, sent at once: an error, a `204`, a JSON document."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()


def error_answer(status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Answer:
    """ssekit's JSON error (`error_body`) as a whole answer, with `headers` after its own."""
    return Answer(status, error_body(status, message), tuple(json_error_headers(headers)))


def json_answer(status: int, document: object, extra: Iterable[tuple[bytes, bytes]] = ()) -> Answer:
    """`document` as a JSON answer (`json_text`), with the headers of every JSON answer."""
    return Answer(status, json_text(document).encode(), tuple(json_error_headers(extra)))


def json_text(document: object) -> str:
    """Compact JSON that UTF-8 can always carry: non-ASCII kept, unless it holds text
    UTF-8 cannot encode (a lone surrogate a client sent, escaped, in its own JSON),
    which is then escaped again rather than failing the answer."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, separators=(",", ":"))
    return text


async def send_answer(send: Send, answer: Answer) -> None:
    """Send a whole answer."""
    await send_status(send, answer.status, answer.body, answer.headers)


async def send_json_error(
    send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """An error answered before any stream started, as JSON."""
    await send_answer(send, error_answer(status, message, headers))


async def refuse_non_http(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a scope that is not ``http`` without raising: an HTTP-only app's refusal.

    A WebSocket is refused as Starlette refuses one it has no route for: a
    ``websocket.close`` (code 1000) before accepting, which the server turns
    into a ``403`` to the upgrade request. Any other type (``lifespan``, or one
    this app does not know) is returned from at once: a server carries on
    without lifespan events, and an unknown scope is not this app's to answer.
    Raising instead would make the server log a traceback, and answer a
    WebSocket with ``500``.
    """
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000, "reason": ""})


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refused with `RequestTooLarge` as soon as it passes `limit`."""
    parts = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client left while sending its request")
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            raise RequestTooLarge(limit)
        parts.append(body)
        if not message.get("more_body", False):
            return b"".join(parts)


async def unless_client_leaves(work: Callable[[], Awaitable[_T]], receive: Receive) -> _T | None:
    """`await work()`, cancelled as soon as the client disconnects (then `None`).

    For an answer that is not streamed: nothing is written until the end, so
    only `receive()` can tell that the client left; cancelling `work` closes the
    bot's stream, and with it the model call.
    """
    result: list[_T] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        async def run() -> None:
            result.append(await work())
            group.cancel_scope.cancel()

        group.start_soon(watch)
        group.start_soon(run)
    return result[0] if result else None

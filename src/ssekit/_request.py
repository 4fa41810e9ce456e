"""The one request parser of every chat endpoint: ``chat_app`` and each demo variant's ``/chat``.

It does no I/O of its own. It is given the request's ASGI scope (method,
headers, query string) and a function that reads the body under a limit, and it
returns the messages to pass to the bot, ``None`` for a reconnect to a finished
stream (answer ``204``), or raises ``RequestRefused`` with the status and message of
the JSON error to answer. Every host answers through it, so a request gets the
same status and the same words wherever it is sent.

The checks, in order (the first that fails decides the answer):

1. the method: ``GET``, ``HEAD`` or ``POST``, else ``405`` (with ``Allow``);
2. ``Last-Event-ID: ssekit-finished``: ``None`` (the body is not read);
3. a ``POST`` must be JSON (``application/json`` or ``+json``), else ``415``;
4. a declared ``content-length`` must be digits (``400``) and within ``max_body`` (``413``);
5. the body is read, whatever the method, and refused (``413``) as soon as it
   passes ``max_body``: a ``GET`` body within the limit is read and ignored.
   Reading it also keeps granian from reporting a disconnect that did not
   happen (docs/serving.md, "Known server quirks");
6. the messages: a ``POST`` body ``{"messages": ["..."]}`` in UTF-8 JSON nested
   at most ``MAX_JSON_DEPTH`` (32) levels, or ``GET``/``HEAD`` ``?message=...``
   (UTF-8, may repeat); then their count and length.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import urllib.parse
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ._asgi import header, last_event_id
from ._exceptions import RequestRefused, RequestTooLarge
from ._options import check_count, check_limit

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_MAX_MESSAGE_LENGTH",
    "FINISHED_ID",
    "MAX_CHAT_ID",
    "MAX_JSON_DEPTH",
    "ChatLimits",
    "ReadBody",
    "RequestScope",
    "method_refusal",
    "nested_deeper_than",
    "parse_json",
    "posted_messages",
    "query_messages",
    "read_chat_request",
    "read_chunks",
    "read_json",
    "read_limited",
]

#: The ``id`` of a finished stream's last event; a reconnect carrying it gets ``204``.
FINISHED_ID = "ssekit-finished"
#: Largest accepted request body, in bytes.
DEFAULT_MAX_BODY = 64 * 1024
#: Messages per request, and characters per message, passed on to the bot by default.
DEFAULT_MAX_MESSAGES = 100
DEFAULT_MAX_MESSAGE_LENGTH = 32_768
#: Deepest nesting of arrays and objects a JSON body may have. A valid body needs 2;
#: checked before parsing, so no body can exhaust the parser's recursion, whatever the
#: host's stack depth (which differs from framework to framework).
MAX_JSON_DEPTH = 32
#: The longest chat id (the AI SDK `useChat` body's `id`) a request may carry; a longer
#: one is refused, so `ResumableStreams.resume_chat` need not ask its store about it.
MAX_CHAT_ID = 256
_METHODS = ("GET", "HEAD", "POST")
_ALLOW = (b"allow", b"GET, HEAD, POST")
#: A JSON string (its closing quote may be missing). Possessive, so an unterminated
#: string is one linear scan, not one per later quote.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}

#: The request's ASGI scope, as any framework exposes it (read only).
RequestScope: TypeAlias = Mapping[str, Any]
#: Reads the whole body, raising ``RequestTooLarge`` as soon as it passes the limit given.
ReadBody = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True)
class ChatLimits:
    """What a chat endpoint accepts; ``None`` turns a message limit off."""

    max_body: int = DEFAULT_MAX_BODY
    max_messages: int | None = DEFAULT_MAX_MESSAGES
    max_message_length: int | None = DEFAULT_MAX_MESSAGE_LENGTH

    def __post_init__(self) -> None:
        check_count("max_body", self.max_body)
        check_limit("max_messages", self.max_messages)
        check_limit("max_message_length", self.max_message_length)


def method_refusal(method: str) -> RequestRefused | None:
    """The ``405`` for a method a chat endpoint does not take, or ``None``.

    Also for hosts whose router refuses a method before any handler runs.
    """
    if method in _METHODS:
        return None
    return RequestRefused(405, f"method {method} is not allowed; use GET, HEAD or POST", [_ALLOW])


async def read_chat_request(
    scope: RequestScope, read_body: ReadBody, limits: ChatLimits
) -> tuple[str, ...] | None:
    """The messages of a chat request; ``None`` for a reconnect to a finished stream.

    Raises ``RequestRefused`` for anything else; lets ``ConnectionResetError`` (the client
    left mid-body: nothing to answer) through.
    """
    method = scope["method"]
    refusal = method_refusal(method)
    if refusal is not None:
        raise refusal
    if last_event_id(scope) == FINISHED_ID:
        return None
    if method == "POST":
        _check_json_content_type(scope)
    body = await read_limited(scope, read_body, limits.max_body)
    messages = posted_messages(body) if method == "POST" else query_messages(scope)
    _check_sizes(messages, limits)
    return messages


async def read_chunks(chunks: AsyncGenerator[bytes, None], limit: int) -> bytes:
    """A framework's body stream, joined; ``RequestTooLarge`` as soon as it passes ``limit``."""
    parts = []
    size = 0
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(limit)
            parts.append(chunk)
    return b"".join(parts)


async def read_json(scope: RequestScope, read_body: ReadBody, max_body: int) -> Any:
    """A request's JSON body, parsed; for the protocols' endpoints, with the same refusals.

    `415` unless the content type is JSON, `400`/`413` for a bad or too large
    declared length, `413` as soon as the body passes `max_body`, `400` for a body
    that is not UTF-8, is nested deeper than `MAX_JSON_DEPTH`, or is not JSON.
    """
    _check_json_content_type(scope)
    return parse_json(await read_limited(scope, read_body, max_body))


async def read_limited(scope: RequestScope, read_body: ReadBody, max_body: int) -> bytes:
    """The whole body, refused (`413`, `RequestTooLarge`) once over `max_body`, declared or read."""
    _check_declared_length(scope, max_body)
    return await read_body(max_body)


def _check_json_content_type(scope: RequestScope) -> None:
    content_type = (header(scope, b"content-type") or b"").decode("latin-1")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise RequestRefused(415, "the request body must be JSON (content-type: application/json)")


def _check_declared_length(scope: RequestScope, limit: int) -> None:
    declared = header(scope, b"content-length")
    if declared is None:
        return
    if not declared.isdigit():
        raise RequestRefused(400, "invalid content-length")
    if int(declared) > limit:
        raise RequestTooLarge(limit)


def parse_json(body: bytes) -> Any:
    """A body as JSON (UTF-8, nested at most `MAX_JSON_DEPTH` levels), else a `400`."""
    try:
        text = body.decode("utf-8-sig")  # RFC 8259: UTF-8; a leading BOM may be ignored
    except UnicodeDecodeError:
        raise RequestRefused(400, "the request body is not valid JSON: it must be UTF-8") from None
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise RequestRefused(400, f"the request body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except ValueError:
        raise RequestRefused(400, "the request body is not valid JSON") from None


def posted_messages(body: bytes) -> tuple[str, ...]:
    """The messages of a ``POST`` body ``{"messages": ["...", ...]}`` (UTF-8 JSON)."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestRefused(400, 'the body must be a JSON object: {"messages": ["..."]}')
    if "messages" not in payload:
        raise RequestRefused(400, 'the body has no "messages" field: send {"messages": ["..."]}')
    messages = payload["messages"]
    if not isinstance(messages, list):
        raise RequestRefused(400, "messages must be a list of strings")
    if not messages:
        raise RequestRefused(400, "messages must not be empty")
    for index, message in enumerate(messages):
        if not isinstance(message, str):
            kind = type(message).__name__
            raise RequestRefused(400, f"messages[{index}] must be a string, not {kind}")
    return tuple(messages)


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON in ``body`` (UTF-8) opens more than ``limit`` arrays/objects inside
    one another.

    Brackets inside strings do not count. For a body that is not JSON the answer
    may differ from a parser's, but only past the point where parsing fails.
    Every step is a loop in C: a 64 KiB body of the worst shapes (thousands of
    short strings or bracket pairs) takes a few milliseconds, a deep one 0.1 ms.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    depths = itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets))
    return any(map(limit.__lt__, depths))  # stops at the first level past the limit


def query_messages(scope: RequestScope) -> tuple[str, ...]:
    """The messages of ``?message=...`` (what an ``EventSource`` can send); it may repeat."""
    query = bytes(scope.get("query_string", b""))
    try:
        fields = urllib.parse.parse_qs(
            query.decode("utf-8"), keep_blank_values=True, errors="strict"
        )
    except UnicodeDecodeError:
        raise RequestRefused(400, "the query string is not valid UTF-8") from None
    messages = fields.get("message", [])
    if not any(messages):
        raise RequestRefused(400, "give the message as ?message=...")
    return tuple(messages)


def _check_sizes(messages: tuple[str, ...], limits: ChatLimits) -> None:
    """Refuse more messages, or longer ones, than the endpoint is configured to pass on."""
    if limits.max_messages is not None and len(messages) > limits.max_messages:
        raise RequestRefused(400, f"too many messages: at most {limits.max_messages}")
    if limits.max_message_length is not None:
        for index, message in enumerate(messages):
            if len(message) > limits.max_message_length:
                raise RequestRefused(
                    400, f"messages[{index}] is longer than {limits.max_message_length} characters"
                )

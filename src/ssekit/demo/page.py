"""The demo's HTML and static files, shared by every framework that serves it.

Everything the page loads comes from here (``/static/*``): htmx (vendored from
npm, see ``static/htmx.min.js``), ssekit's ``sse-client.js``, the page script
and its CSS. The page's Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

import functools
import html
import string
import urllib.parse
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "MAX_FORM",
    "MAX_MESSAGE",
    "PAGE_HEADERS",
    "Asset",
    "BadTurn",
    "Turn",
    "asset",
    "page",
    "parse_turn",
    "read_form",
    "turn_fragment",
]

_DEMO_STATIC = Path(__file__).parent / "static"
_CLIENT_STATIC = Path(__file__).parent.parent / "static"
#: The files served under ``/static/``; nothing else is.
_ASSETS = {
    "htmx.min.js": (_DEMO_STATIC, "text/javascript; charset=utf-8"),
    "demo.js": (_DEMO_STATIC, "text/javascript; charset=utf-8"),
    "demo.css": (_DEMO_STATIC, "text/css; charset=utf-8"),
    "sse-client.js": (_CLIENT_STATIC, "text/javascript; charset=utf-8"),
}
#: Longest message the form accepts (a GET stream carries it in the URL).
MAX_MESSAGE = 2000
#: Largest ``/turn`` form body: ``MAX_MESSAGE`` characters of any script (up to 4 bytes each in
#: UTF-8, each byte percent-encoded as 3), plus room for the field names and the transport.
MAX_FORM = MAX_MESSAGE * 4 * 3 + 1024
#: Headers of the page itself: it may load and connect to this server only.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
Transport = Literal["post", "get"]


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


class BadTurn(ValueError):
    """The ``/turn`` form was not a message and a transport (answered with 400)."""


@dataclass(frozen=True)
class Turn:
    """One question from the form, and how its answer is to be streamed."""

    message: str
    transport: Transport


@functools.cache
def asset(name: str) -> Asset | None:
    """The static file ``name`` (read once), or ``None`` if it is not one of the demo's."""
    found = _ASSETS.get(name)
    if found is None:
        return None
    directory, content_type = found
    return Asset((directory / name).read_bytes(), content_type)


@functools.cache
def _template() -> string.Template:
    return string.Template((_DEMO_STATIC / "index.html").read_text("utf-8"))


def page(model: str, framework: str) -> str:
    """The chat page, naming the model and the framework serving it."""
    return _template().substitute(
        model=html.escape(model),
        framework=html.escape(framework),
        max_message=MAX_MESSAGE,
    )


async def read_form(chunks: AsyncIterable[bytes]) -> bytes:
    """A ``/turn`` form body, refused with ``BadTurn`` as soon as it is past ``MAX_FORM`` bytes.

    Each framework variant reads its request's body chunks through this, so all
    of them bound it alike, whatever their own default limit.
    """
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_FORM:
            raise BadTurn(f"the form is larger than {MAX_FORM} bytes")
        parts.append(chunk)
    return b"".join(parts)


def parse_turn(body: bytes) -> Turn:
    """The form htmx posts to ``/turn`` (``message``, ``transport``), validated.

    The page shows a refusal's message to the user, so each says what to change.
    """
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise BadTurn("the form is not UTF-8") from None
    message = fields.get("message", [""])[0]
    transport = fields.get("transport", ["post"])[0]
    if not message.strip():
        raise BadTurn("the message is empty or only spaces")
    if len(message) > MAX_MESSAGE:
        raise BadTurn(f"the message is longer than {MAX_MESSAGE} characters")
    if transport not in ("post", "get"):
        raise BadTurn("transport must be post or get")
    return Turn(message, "get" if transport == "get" else "post")


def turn_fragment(turn: Turn) -> str:
    """What ``/turn`` answers: the user's bubble and an empty assistant bubble to stream into.

    The page script finds the new assistant bubble and streams ``data-message``'s
    answer into it over ``data-transport``. Every value is escaped.
    """
    message = html.escape(turn.message, quote=True)
    return (
        '<article class="turn">\n'
        f'  <p class="bubble user">{message}</p>\n'
        f'  <div class="bubble assistant" data-message="{message}"'
        f' data-transport="{turn.transport}">\n'
        '    <p class="answer"></p>\n'
        '    <p class="status" role="status"></p>\n'
        "  </div>\n"
        "</article>\n"
    )

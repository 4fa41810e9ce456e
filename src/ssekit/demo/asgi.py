"""The demo as a plain ASGI app, with no web framework: ``chat_app`` at ``/chat`` plus the page."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from .._asgi import Receive, RequestTooLarge, Scope, Send, read_body, refuse_non_http, send_status
from .._chat import chat_app
from .._request import ChatLimits
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .page import MAX_FORM, PAGE_HEADERS, BadTurn, asset, page, parse_turn, turn_fragment

if TYPE_CHECKING:
    from ..resume import ResumableStreams

__all__ = ["DemoApp", "build"]

_HTML = "text/html; charset=utf-8"


def _headers(content_type: str, extra: dict[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    pairs = {"content-type": content_type, "cache-control": "no-cache", **(extra or {})}
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs.items()]


class DemoApp:
    """``/`` the page, ``/turn`` the htmx fragment, ``/static/*`` its files, ``/chat`` streams.

    With ``resume``, ``/chat/streams/<sid>`` resumes (``GET``) and stops (``DELETE``) an answer.
    """

    def __init__(
        self,
        bot: StreamingBot,
        *,
        model: str,
        shutdown: ShutdownSignal | None,
        limits: ChatLimits,
        resume: ResumableStreams | None = None,
    ) -> None:
        self._chat = chat_app(bot, shutdown=shutdown, resume=resume, **asdict(limits))
        self._page = page(model, "asgi").encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._chat(scope, receive, send)  # its lifespan ends streams at shutdown
            return
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        if scope["path"] == "/chat" or scope["path"].startswith("/chat/streams/"):
            await self._chat(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/turn":
            await self._turn(method, receive, send)
        elif method != "GET":
            await send_status(send, 405, b"method not allowed", _headers("text/plain"))
        elif path == "/":
            await send_status(send, 200, self._page, _headers(_HTML, PAGE_HEADERS))
        elif path.startswith("/static/") and (found := asset(path.removeprefix("/static/"))):
            await send_status(send, 200, found.body, _headers(found.content_type))
        else:
            await send_status(send, 404, b"not found", _headers("text/plain"))

    async def _turn(self, method: str, receive: Receive, send: Send) -> None:
        if method != "POST":
            await send_status(send, 405, b"method not allowed", _headers("text/plain"))
            return
        try:
            turn = parse_turn(await read_body(receive, MAX_FORM))
        except (BadTurn, RequestTooLarge) as exc:
            await send_status(send, 400, str(exc).encode(), _headers("text/plain; charset=utf-8"))
            return
        except ConnectionResetError:
            return
        await send_status(send, 200, turn_fragment(turn).encode("utf-8"), _headers(_HTML))


def build(
    bot: StreamingBot,
    *,
    model: str,
    shutdown: ShutdownSignal | None,
    limits: ChatLimits,
    resume: ResumableStreams | None = None,
) -> DemoApp:
    return DemoApp(bot, model=model, shutdown=shutdown, limits=limits, resume=resume)

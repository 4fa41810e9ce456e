"""The demo on Starlette, streaming through the ``ssekit-starlette`` adapter."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from ssekit_starlette import sse_response
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._exceptions import RequestRefused
from .._request import ChatLimits, read_chat_request, read_chunks
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import CHAT, JSON, answer, json_error, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]


class ChatEndpoint:
    """``/chat`` for every method: ``Route`` hands an ASGI-app endpoint all of them, so
    the shared parser, not Starlette's router, answers the ones ``/chat`` refuses.

    (Starlette itself closes a WebSocket sent to ``/chat``: no route takes one.)
    """

    def __init__(
        self, bot: StreamingBot, limits: ChatLimits, shutdown: ShutdownSignal | None
    ) -> None:
        self._bot = bot
        self._limits = limits
        self._shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            messages = await read_chat_request(
                scope, lambda limit: read_chunks(_chunks(request), limit), self._limits
            )
        except RequestRefused as refused:
            status, body, headers = json_error(refused)
            response: Response = Response(body, status, headers, media_type=JSON)
        except ConnectionResetError:
            return  # the client left while sending its request: nobody to answer
        else:
            if messages is None:
                response = Response(status_code=204)
            else:
                events = answer(self._bot, messages)
                response = sse_response(events, **stream_options(self._shutdown))
        await response(scope, receive, send)


async def _chunks(request: Request) -> AsyncGenerator[bytes, None]:
    """The body as it arrives (never held whole by Starlette); a client gone mid-body raises
    ``ConnectionResetError``, as ``chat_app``'s reader does."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ConnectionResetError("the client left while sending its request") from None


def build(
    bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None, limits: ChatLimits
) -> Starlette:
    html = page(model, "starlette")

    async def index(request: Request) -> Response:
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def static(request: Request) -> Response:
        found = asset(request.path_params["name"])
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(found.body, media_type=found.content_type)

    async def turn(request: Request) -> Response:
        try:
            return HTMLResponse(turn_fragment(parse_turn(await read_form(request.stream()))))
        except BadTurn as exc:
            return PlainTextResponse(str(exc), status_code=400)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/turn", turn, methods=["POST"]),
            Route(CHAT, ChatEndpoint(bot, limits, shutdown)),
        ]
    )

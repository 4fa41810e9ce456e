"""The demo on Litestar, streaming through the ``ssekit-litestar`` adapter."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Litestar, Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import InternalServerException, MethodNotAllowedException
from litestar.exceptions.responses import create_exception_response
from litestar.handlers import HTTPRouteHandler
from ssekit_litestar import sse_response

from .._exceptions import RequestRefused
from .._request import ChatLimits, read_chat_request, read_chunks
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import CHAT, JSON, answer, chat_method_refusal, json_error, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]

#: Litestar adds "; charset=utf-8" to text/* media types itself.
_HTML = "text/html"


def _refusal(refused: RequestRefused) -> Response[bytes]:
    status, body, headers = json_error(refused)
    return Response(body, status_code=status, headers=headers, media_type=JSON)


async def _chunks(request: Request[Any, Any, Any]) -> AsyncGenerator[bytes, None]:
    """The body as it arrives; a client gone mid-body raises ``ConnectionResetError``, as
    ``chat_app``'s reader does (Litestar reports it as an ``InternalServerException``)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except InternalServerException:
        raise ConnectionResetError("the client left while sending its request") from None


def _method_not_allowed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's router refuses a method it has no name for (``PROPFIND``) before any
    handler runs: on ``/chat``, refuse it as ``chat_app`` does; elsewhere, as Litestar does."""
    refused = chat_method_refusal(request.url.path, request.method)
    return create_exception_response(request, exc) if refused is None else _refusal(refused)


def build(
    bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None, limits: ChatLimits
) -> Litestar:
    # A WebSocket to /chat finds no route: Litestar closes it before accepting, which the
    # server answers with 403, as for chat_app. (A @websocket handler that closes it would
    # do the same, but on granian its connection then stays open until Python's cyclic
    # garbage collector runs.) No logging_config: Litestar's default sets the root logger
    # to INFO, which would print litellm's per-request INFO lines.
    return Litestar(
        [*_page_routes(page(model, "litestar")), _chat_route(bot, limits, shutdown)],
        exception_handlers={MethodNotAllowedException: _method_not_allowed},
        logging_config=None,
    )


def _page_routes(html: str) -> list[HTTPRouteHandler]:
    """``/``, ``/static/*`` and the htmx ``/turn``."""

    @get("/", sync_to_thread=False)
    def index() -> Response[str]:
        return Response(html, media_type=_HTML, headers=PAGE_HEADERS)

    @get("/static/{name:str}", sync_to_thread=False)
    def static(request: Request[Any, Any, Any]) -> Response[bytes]:
        found = asset(request.path_params["name"])
        if found is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        return Response(found.body, media_type=found.content_type.split(";")[0])

    @post("/turn", status_code=200)
    async def turn(request: Request[Any, Any, Any]) -> Response[str]:
        try:
            fragment = turn_fragment(parse_turn(await read_form(request.stream())))
            return Response(fragment, media_type=_HTML)
        except BadTurn as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")

    return [index, static, turn]


def _chat_route(
    bot: StreamingBot, limits: ChatLimits, shutdown: ShutdownSignal | None
) -> HTTPRouteHandler:
    """``/chat``, answering as ``chat_app`` does.

    Every method Litestar knows comes here, so the parser refuses the wrong ones (and
    Litestar's automatic OPTIONS answer does not). The limit is the parser's, not
    Litestar's request_max_body_size (whose 413 says something else).
    """

    @route(CHAT, http_method=list(HttpMethod), status_code=200, request_max_body_size=None)
    async def chat(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            messages = await read_chat_request(
                request.scope, lambda limit: read_chunks(_chunks(request), limit), limits
            )
        except RequestRefused as refused:
            return _refusal(refused)
        except ConnectionResetError:
            # The client left while sending its request: nobody will read this.
            return Response(b"", status_code=400)
        if messages is None:
            return Response(None, status_code=204)
        return sse_response(answer(bot, messages), **stream_options(shutdown))

    return chat

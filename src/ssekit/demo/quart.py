"""The demo on Quart, streaming through the ``ssekit-quart`` adapter."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from quart import Quart, Response, current_app, request, websocket
from ssekit_quart import sse_response
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from .._exceptions import RequestRefused, RequestTooLarge
from .._request import ChatLimits, read_chat_request, read_chunks
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import CHAT, JSON, answer, chat_method_refusal, json_error, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]

_HTML = "text/html; charset=utf-8"


async def _body() -> bytes:
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


def _no_content() -> Response:
    """``204`` as ``chat_app`` sends it: no headers (Quart would add a content type)."""
    response = Response(b"", status=204)
    del response.headers["Content-Type"]
    return response


def _refusal(refused: RequestRefused) -> Response:
    status, body, headers = json_error(refused)
    return Response(body, status=status, headers=headers, content_type=JSON)


async def _chunks() -> AsyncGenerator[bytes, None]:
    """The body as it arrives. Quart buffers what the handler has not taken yet, up to
    ``MAX_CONTENT_LENGTH`` (set to ``max_body``), then stops buffering and raises."""
    try:
        async for chunk in request.body:
            yield chunk
    except RequestEntityTooLarge:
        raise RequestTooLarge(current_app.config["MAX_CONTENT_LENGTH"]) from None


def build(
    bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None, limits: ChatLimits
) -> Quart:
    app = Quart(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body
    _add_page_routes(app, page(model, "quart"))
    _add_chat_routes(app, bot, limits, shutdown)
    return app


def _add_page_routes(app: Quart, html: str) -> None:
    """``/``, ``/static/*`` and the htmx ``/turn``."""

    @app.get("/")
    async def index() -> Response:
        return Response(html, content_type=_HTML, headers=PAGE_HEADERS)

    @app.get("/static/<name>")
    async def static(name: str) -> Response:
        found = asset(name)
        if found is None:
            return Response("not found", status=404, content_type="text/plain")
        return Response(found.body, content_type=found.content_type)

    @app.post("/turn")
    async def turn() -> Response:
        try:
            fragment = turn_fragment(parse_turn(await read_form(request.body)))
        except BadTurn as exc:
            return Response(str(exc), status=400, content_type="text/plain")
        return Response(fragment, content_type=_HTML)


def _add_chat_routes(
    app: Quart, bot: StreamingBot, limits: ChatLimits, shutdown: ShutdownSignal | None
) -> None:
    """``/chat``, answering every method and a WebSocket as ``chat_app`` does."""

    # HEAD comes with GET; no automatic OPTIONS answer: the parser refuses OPTIONS.
    @app.route(CHAT, methods=["GET", "POST"], provide_automatic_options=False)
    async def chat() -> Response:
        try:
            messages = await read_chat_request(
                request.scope, lambda limit: read_chunks(_chunks(), limit), limits
            )
        except RequestRefused as refused:
            return _refusal(refused)
        if messages is None:
            return _no_content()
        return sse_response(answer(bot, messages), **stream_options(shutdown))

    @app.errorhandler(MethodNotAllowed)
    async def method_not_allowed(error: MethodNotAllowed) -> Response | HTTPException:
        """Quart's router refuses other methods before ``chat`` runs: on ``/chat``, refuse
        them as ``chat_app`` does; elsewhere, as Quart does."""
        refused = chat_method_refusal(request.path, request.method)
        return error if refused is None else _refusal(refused)

    @app.websocket(CHAT)
    async def chat_socket() -> None:
        await websocket.close(1000)  # refused before accepting, as chat_app (and Starlette) do

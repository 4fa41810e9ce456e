"""The demo on Starlette, streaming through the ``ssekit-starlette`` adapter."""

from __future__ import annotations

from ssekit_starlette import sse_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import BadChat, answer, error_json, posted_messages, query_messages, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]


def build(bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None) -> Starlette:
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

    async def chat(request: Request) -> Response:
        try:
            if request.method == "POST":
                messages = posted_messages(await request.body())
            else:
                messages = query_messages(request.query_params.getlist("message"))
        except BadChat as exc:
            return Response(error_json(str(exc)), status_code=400, media_type="application/json")
        return sse_response(answer(bot, messages), **stream_options(shutdown))

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/turn", turn, methods=["POST"]),
            Route("/chat", chat, methods=["GET", "POST"]),
        ]
    )

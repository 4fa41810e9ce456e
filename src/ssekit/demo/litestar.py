"""The demo on Litestar, streaming through the ``ssekit-litestar`` adapter."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get, post, route
from ssekit_litestar import sse_response

from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import BadChat, answer, error_json, posted_messages, query_messages, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]

#: Litestar adds "; charset=utf-8" to text/* media types itself.
_HTML = "text/html"


def build(bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None) -> Litestar:
    html = page(model, "litestar")

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

    @route("/chat", http_method=["GET", "POST"], status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            if request.method == "POST":
                messages = posted_messages(await request.body())
            else:
                messages = query_messages(request.query_params.getall("message", []))
        except BadChat as exc:
            return Response(error_json(str(exc)), status_code=400, media_type="application/json")
        return sse_response(answer(bot, messages), **stream_options(shutdown))

    # No logging_config: Litestar's default sets the root logger to INFO, which would
    # print litellm's per-request INFO lines.
    return Litestar([index, static, turn, chat], logging_config=None)

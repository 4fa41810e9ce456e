"""The demo on Quart, streaming through the ``ssekit-quart`` adapter."""

from __future__ import annotations

from quart import Quart, Response, request
from ssekit_quart import sse_response

from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .endpoint import BadChat, answer, error_json, posted_messages, query_messages, stream_options
from .page import PAGE_HEADERS, BadTurn, asset, page, parse_turn, read_form, turn_fragment

__all__ = ["build"]

_HTML = "text/html; charset=utf-8"


async def _body() -> bytes:
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


def build(bot: StreamingBot, *, model: str, shutdown: ShutdownSignal | None) -> Quart:
    app = Quart(__name__, static_folder=None)
    html = page(model, "quart")

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

    @app.route("/chat", methods=["GET", "POST"])
    async def chat() -> Response:
        try:
            if request.method == "POST":
                messages = posted_messages(await _body())
            else:
                messages = query_messages(request.args.getlist("message"))
        except BadChat as exc:
            return Response(error_json(str(exc)), status=400, content_type="application/json")
        return sse_response(answer(bot, messages), **stream_options(shutdown))

    return app

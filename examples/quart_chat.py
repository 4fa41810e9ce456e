"""Quart: ``POST /chat`` with ``{"messages": [...]}`` streams the bot's answer as SSE.

Run it with ``uv run hypercorn examples.quart_chat:app`` (or uvicorn), then::

    curl -N localhost:8000/chat -H 'content-type: application/json' -d '{"messages": ["Hi!"]}'
"""

from __future__ import annotations

from quart import Quart, Response, request
from ssekit_quart import sse_response

from ssekit import AsyncSimpleBot, sse_stream, warm_up

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")
app = Quart(__name__)


@app.before_serving
async def load_the_model() -> None:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request


@app.post("/chat")
async def chat() -> Response | tuple[dict[str, str], int]:
    payload = await request.get_json(silent=True)
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return {"detail": 'send {"messages": ["..."]}'}, 400
    if not messages:
        return {"detail": "messages must not be empty"}, 400
    return sse_response(sse_stream(bot, messages))

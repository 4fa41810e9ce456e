"""Litestar: ``POST /chat`` with ``{"messages": [...]}`` streams the bot's answer as SSE.

Run it with ``uv run uvicorn examples.litestar_chat:app``, then::

    curl -N localhost:8000/chat -H 'content-type: application/json' -d '{"messages": ["Hi!"]}'
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar, post
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from ssekit_litestar import EventSourceResponse, sse_response

from ssekit import AsyncSimpleBot, sse_stream, warm_up

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")


@dataclass
class Chat:
    messages: list[str]


@post("/chat", status_code=200)  # Litestar's @post answers 201 unless told otherwise
async def chat(data: JSONBody[Chat]) -> EventSourceResponse:
    if not data.messages:
        raise HTTPException(status_code=400, detail="messages must not be empty")
    return sse_response(sse_stream(bot, data.messages))


async def load_the_model() -> None:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request


app = Litestar([chat], on_startup=[load_the_model])

"""Starlette: ``POST /chat`` with ``{"messages": [...]}`` streams the bot's answer as SSE.

Run it with ``uv run uvicorn examples.starlette_chat:app``, then::

    curl -N localhost:8000/chat -H 'content-type: application/json' -d '{"messages": ["Hi!"]}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ssekit_starlette import sse_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ssekit import AsyncSimpleBot, sse_stream, warm_up

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")


async def chat(request: Request) -> Response:
    try:
        messages = (await request.json())["messages"]
    except (ValueError, TypeError, KeyError):
        messages = None
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return JSONResponse({"detail": 'send {"messages": ["..."]}'}, status_code=400)
    if not messages:
        return JSONResponse({"detail": "messages must not be empty"}, status_code=400)
    return sse_response(sse_stream(bot, messages))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request
    yield


app = Starlette(routes=[Route("/chat", chat, methods=["POST"])], lifespan=lifespan)

"""FastAPI: ``POST /chat`` with ``{"messages": [...]}`` streams the bot's answer as SSE.

Run it with ``uv run uvicorn examples.fastapi_chat:app``, then::

    curl -N localhost:8000/chat -H 'content-type: application/json' -d '{"messages": ["Hi!"]}'

The bot answers with the offline ``ssekit/echo`` model unless ``SSEKIT_MODEL``
names another litellm model (``openai/gpt-4o-mini`` with ``OPENAI_API_KEY``...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from ssekit_starlette import EventSourceResponse, sse_response

from ssekit import AsyncSimpleBot, sse_stream, warm_up

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request
    yield


app = FastAPI(title="ssekit chat", lifespan=lifespan)


class Chat(BaseModel):
    messages: list[str]


@app.post("/chat")
async def chat(request: Chat) -> EventSourceResponse:
    if not request.messages:
        raise HTTPException(400, "messages must not be empty")
    return sse_response(sse_stream(bot, request.messages))

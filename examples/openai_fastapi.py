"""FastAPI: an OpenAI-compatible endpoint from ssekit's protocol building blocks.

``chat_app(bot, protocol="openai")`` does all of this for you; this is for when the
endpoint must live among your own FastAPI routes. Run it with
``uv run uvicorn examples.openai_fastapi:app``, then::

    from openai import OpenAI
    client = OpenAI(base_url="http://localhost:8000/v1", api_key="unused")
    for chunk in client.chat.completions.create(
        model="ssekit", messages=[{"role": "user", "content": "Hi!"}], stream=True
    ):
        print(chunk.choices[0].delta.content or "", end="")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from ssekit_starlette import sse_response

from ssekit import AsyncSimpleBot, RequestRefused, warm_up
from ssekit.protocols import Answer, OpenAIProtocol

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")
protocol = OpenAIProtocol()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request
    yield


app = FastAPI(title="ssekit, OpenAI-compatible", lifespan=lifespan)


def as_response(answer: Answer) -> Response:
    """A whole answer (an error, a JSON completion) as a FastAPI response."""
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return Response(answer.body, answer.status, headers=headers)


@app.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    try:
        turn = protocol.parse(protocol.CHAT, await request.body())
    except RequestRefused as refused:  # 400/413 in OpenAI's error shape
        return as_response(protocol.refusal(refused))
    if not turn.stream:
        return as_response(await protocol.complete(bot, turn))
    stream = protocol.stream(bot, turn)
    # Heartbeat, disconnect, send timeout, shutdown, and OpenAI's error frames.
    return sse_response(stream.events, **stream.options)

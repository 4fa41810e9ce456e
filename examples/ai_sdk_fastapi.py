"""FastAPI: the backend of a Vercel AI SDK `useChat` page, from ssekit's protocol building blocks.

`chat_app(bot, protocol="ai-sdk")` does all of this for you; this is for when the
endpoint must live among your own FastAPI routes. Run it with
`uv run uvicorn examples.ai_sdk_fastapi:app`, then, in a React page (ai 5 or later):

    import { useChat } from "@ai-sdk/react";
    import { DefaultChatTransport } from "ai";

    const { messages, sendMessage, stop } = useChat({
      transport: new DefaultChatTransport({ api: "http://localhost:8000/api/chat" }),
    });

The answer streams as the UI Message Stream (`x-vercel-ai-ui-message-stream: v1`):
text, reasoning and tool-call input as the model sends them, then `finish` and
`[DONE]`; a failure or a shutdown is the protocol's `error` chunk, which
`useChat` shows as its `error`. `stop()` closes the model call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from ssekit_starlette import sse_response

from ssekit import AsyncSimpleBot, RequestRefused, warm_up
from ssekit.protocols import AISDKProtocol, Answer

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")
protocol = AISDKProtocol()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request
    yield


app = FastAPI(title="ssekit, for useChat", lifespan=lifespan)
# The page's dev server (Next.js, Vite) is another origin: let it post.
app.add_middleware(CORSMiddleware, allow_origins=["http://localhost:3000", "http://localhost:5173"])


def as_response(answer: Answer) -> Response:
    """A refusal as a FastAPI response."""
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return Response(answer.body, answer.status, headers=headers)


@app.post("/api/chat")
async def chat(request: Request) -> Response:
    try:  # the useChat body: {id, messages: UIMessage[], trigger, ...}
        turn = protocol.parse(protocol.CHAT, await request.body())
    except RequestRefused as refused:  # 400/413: useChat raises it with the message
        return as_response(protocol.refusal(refused))
    stream = protocol.stream(bot, turn)
    # Heartbeat, disconnect, send timeout, shutdown, and the protocol's error chunk.
    return sse_response(stream.events, **stream.options)


@app.get("/api/chat/{chat_id}/stream")
async def resume(chat_id: str) -> Response:
    """`useChat({resume: true})` asks here on load; `204` is "no answer to resume"
    (none outlives the request that asked for it here)."""
    return Response(status_code=204)

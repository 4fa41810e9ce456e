"""FastAPI: an AG-UI agent endpoint (CopilotKit, `@ag-ui/client`) from ssekit's building blocks.

`chat_app(bot, protocol="ag-ui")` does all of this for you; this is for when the
endpoint must live among your own FastAPI routes. Run it with
`uv run uvicorn examples.ag_ui_endpoint:app`, then, in TypeScript:

    import { HttpAgent } from "@ag-ui/client";

    const agent = new HttpAgent({ url: "http://localhost:8000/agent" });
    agent.addMessage({ id: crypto.randomUUID(), role: "user", content: "Hi!" });
    await agent.runAgent();
    console.log(agent.messages.at(-1)?.content);

The run streams `RUN_STARTED`, the reasoning, text and tool call events as the
model sends them, then `RUN_FINISHED`; a failure is `RUN_ERROR` (`code`
`server_error`), a shutdown `RUN_ERROR` with `code` `shutdown`. The request's
`tools`, `context`, `state` and `forwardedProps` are in `turn.options`, for a
bot that uses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from ssekit_starlette import sse_response

from ssekit import AsyncSimpleBot, RequestRefused, warm_up
from ssekit.protocols import AGUIProtocol

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")
protocol = AGUIProtocol()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await warm_up()  # litellm's import takes seconds: pay it now, not on the first request
    yield


app = FastAPI(title="ssekit, an AG-UI agent", lifespan=lifespan)


@app.post("/agent")
async def run_agent(request: Request) -> Response:
    try:  # a RunAgentInput: {threadId, runId, messages, tools, context, state, ...}
        turn = protocol.parse(protocol.RUN, await request.body())
    except RequestRefused as refused:  # 400/413: the HttpAgent fails the run with it
        answer = protocol.refusal(refused)
        headers = {name.decode(): value.decode() for name, value in answer.headers}
        return Response(answer.body, answer.status, headers=headers)
    stream = protocol.stream(bot, turn)
    # Heartbeat, disconnect, send timeout, shutdown, and RUN_ERROR for a failure.
    return sse_response(stream.events, **stream.options)

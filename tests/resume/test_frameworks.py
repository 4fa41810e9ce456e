"""The building blocks in a framework's own routes (FastAPI, Litestar, Quart, Django), served.

`streams.start(...)`, `.resume(...)` and `.stop(...)` return a `StreamAnswer`;
the routes turn it into the framework's responses with its adapter's
`sse_response`, and the host's lifespan owns the streams (`async with streams`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from litestar import Litestar, delete, get, post
from litestar import Request as LitestarRequest
from litestar import Response as LitestarResponse
from litestar.params import PathParameter
from quart import Quart
from quart import Response as QuartResponse
from quart import request as quart_request
from ssekit_litestar import sse_response as litestar_sse_response
from ssekit_quart import sse_response as quart_sse_response
from ssekit_starlette import sse_response

from ssekit import sse_stream
from ssekit.resume import MemoryStore, ResumableStreams, StreamAnswer, requested_id
from tests.resume.workers import read
from tests.support.resume_apps import MemoryRecorder, ScriptedBot, expected_text
from tests.support.servers import serve


def build_fastapi() -> tuple[FastAPI, MemoryRecorder]:
    streams = ResumableStreams(MemoryStore())
    recorder = MemoryRecorder()
    bot = ScriptedBot(recorder)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with streams:
            yield

    app = FastAPI(lifespan=lifespan)

    def respond(answer: StreamAnswer) -> Response:
        if answer.events is not None:
            return sse_response(answer.events, headers=answer.headers)
        if answer.error is not None:
            return JSONResponse(answer.error_body(), answer.status_code, answer.headers)
        return Response(status_code=answer.status_code, headers=answer.headers)

    @app.post("/ask")
    async def ask(request: Request) -> Response:
        messages = (await request.json())["messages"]
        return respond(await streams.start(sse_stream(bot, messages)))

    @app.get("/ask/streams/{sid}")
    async def resume(sid: str, request: Request) -> Response:
        return respond(await streams.resume(sid, requested_id(request.scope)))

    @app.delete("/ask/streams/{sid}")
    async def stop(sid: str) -> Response:
        return respond(await streams.stop(sid))

    return app, recorder


def build_litestar() -> tuple[Litestar, MemoryRecorder]:
    streams = ResumableStreams(MemoryStore())
    recorder = MemoryRecorder()
    bot = ScriptedBot(recorder)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with streams:
            yield

    def respond(answer: StreamAnswer) -> LitestarResponse[Any]:
        status = answer.status_code
        if answer.events is not None:
            return litestar_sse_response(answer.events, headers=answer.headers, status_code=status)
        if answer.error is not None:
            return LitestarResponse(answer.error_body(), status_code=status, headers=answer.headers)
        return LitestarResponse(None, status_code=status, headers=answer.headers)

    @post("/ask")
    async def ask(request: LitestarRequest[Any, Any, Any]) -> LitestarResponse[Any]:
        messages = (await request.json())["messages"]
        return respond(await streams.start(sse_stream(bot, messages)))

    @get("/ask/streams/{sid:str}")
    async def resume(
        sid: Annotated[str, PathParameter()], request: LitestarRequest[Any, Any, Any]
    ) -> LitestarResponse[Any]:
        return respond(await streams.resume(sid, requested_id(request.scope)))

    @delete("/ask/streams/{sid:str}", status_code=200)  # the answer's own status wins
    async def stop(sid: Annotated[str, PathParameter()]) -> LitestarResponse[Any]:
        return respond(await streams.stop(sid))

    return Litestar([ask, resume, stop], lifespan=[lifespan]), recorder


def build_quart() -> tuple[Quart, MemoryRecorder]:
    streams = ResumableStreams(MemoryStore())
    recorder = MemoryRecorder()
    bot = ScriptedBot(recorder)
    app = Quart(__name__)

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        async with streams:
            yield

    def respond(answer: StreamAnswer) -> QuartResponse:
        status, headers = answer.status_code, answer.headers
        if answer.events is not None:
            return quart_sse_response(answer.events, headers=headers)
        if answer.error is not None:
            body = json.dumps(answer.error_body(), separators=(",", ":"))
            return QuartResponse(body, status, headers, content_type="application/json")
        return QuartResponse("", status, headers)

    @app.post("/ask")
    async def ask() -> QuartResponse:
        messages = (await quart_request.get_json())["messages"]
        return respond(await streams.start(sse_stream(bot, messages)))

    @app.get("/ask/streams/<sid>")
    async def resume(sid: str) -> QuartResponse:
        return respond(await streams.resume(sid, requested_id(quart_request.scope)))

    @app.delete("/ask/streams/<sid>")
    async def stop(sid: str) -> QuartResponse:
        return respond(await streams.stop(sid))

    return app, recorder


def build_django() -> tuple[Any, MemoryRecorder]:
    from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from ssekit_django import sse_response as django_sse_response

    from tests.support.django_project import asgi_app

    streams = ResumableStreams(MemoryStore())
    recorder = MemoryRecorder()
    bot = ScriptedBot(recorder)

    def respond(answer: StreamAnswer) -> HttpResponseBase:
        status, headers = answer.status_code, answer.headers
        if answer.events is not None:
            return django_sse_response(answer.events, headers=headers)
        if answer.error is not None:
            compact = {"separators": (",", ":")}
            body = answer.error_body()
            return JsonResponse(body, status=status, headers=headers, json_dumps_params=compact)
        return HttpResponse(status=status, headers=headers)

    async def ask(request: HttpRequest) -> HttpResponseBase:
        messages = json.loads(request.body)["messages"]
        return respond(await streams.start(sse_stream(bot, messages)))

    async def stream(request: HttpRequest, sid: str) -> HttpResponseBase:
        if request.method == "DELETE":
            return respond(await streams.stop(sid))
        scope = request.scope  # type: ignore[attr-defined]  # an ASGIRequest's
        return respond(await streams.resume(sid, requested_id(scope)))

    urls = [path("ask", csrf_exempt(ask)), path("ask/streams/<str:sid>", csrf_exempt(stream))]
    return asgi_app(urls, while_serving=[streams]), recorder


BUILDS = [build_fastapi, build_litestar, build_quart, build_django]


@pytest.mark.parametrize("build", BUILDS, ids=["fastapi", "litestar", "quart", "django"])
def test_routes_start_resume_and_stop(build: Callable[[], tuple[Any, MemoryRecorder]]) -> None:
    app, recorder = build()
    with serve(app, "hypercorn-asyncio") as running:
        url = f"{running.url}/ask"
        first = read("POST", url, message="count=20 delay=0.01 tag=fa", take=5)
        sid = first.stream_id
        rest = read("GET", f"{url}/streams/{sid}", last_id=first.last_id)
        assert first.text + rest.text == expected_text(20)
        assert read("GET", f"{url}/streams/{sid}?last_event_id={rest.last_id}").status == 204
        missing = read("GET", f"{url}/streams/{'D' * 22}")
        assert missing.status == 404 and missing.body.startswith(b'{"error":{"status":404')
        running_one = read("POST", url, message="count=500 delay=0.02 tag=fa-stop", take=1)
        with httpx.Client(timeout=10) as client:
            stopped = client.delete(f"{url}/streams/{running_one.stream_id}")
        assert stopped.status_code == 202
        ended = read("GET", f"{url}/streams/{running_one.stream_id}")
        assert ended.events[-1][:2] == ("error", "stopped")
        assert recorder.calls == {"fa": 1, "fa-stop": 1}

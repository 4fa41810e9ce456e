"""Django's ASGI handler, letting ssekit's responses write themselves.

Django's `ASGIHandler` runs the middleware and the view, sends the response's
status and headers, then iterates its body in the request's task and sends each
chunk. That is not enough for an event stream: the status must be able to wait
for the first event (`prefetch`), each write must be timed (`send_timeout`),
`HEAD` and a finished stream's reconnect must be answered without running the
producer, and a token should go out from the producer's own task instead of
being handed to the request's task first. So this handler gives a
[ServedResponse][ssekit_django.ServedResponse] the connection's `send` once
Django's middleware has run: ssekit's core response then writes the stream, in
push mode, exactly as on any ASGI framework. Every other response goes through
Django's own `send_response`.

Django's handler listens for `http.disconnect` in a task of its own and cancels
the request's task when the client leaves; that cancellation reaches the core
response, which cancels and closes the producer before the task ends.

Two more differences from Django's handler: the request's ASGI scope is known to
the code it runs (`SERVING_SCOPE`), which is how a response refuses, in the view,
to be served by anything else; and the ASGI lifespan protocol is answered (Django
raises on it), running `on_startup` hooks such as `ssekit.warm_up` and holding
`while_serving` contexts (a `ssekit.resume.ResumableStreams`) open as long as the
server runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import django
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.http import HttpResponseBase

from ._responses import SERVING_SCOPE, Receive, Scope, Send, ServedResponse

__all__ = ["ASGIHandler", "StartupHook", "get_asgi_application"]

#: An async callable awaited once when the server starts (ASGI lifespan).
StartupHook = Callable[[], Awaitable[object]]

_logger = logging.getLogger("ssekit_django")


class ASGIHandler(DjangoASGIHandler):
    """Django's `ASGIHandler`, serving ssekit's responses with the connection's `send`."""

    def __init__(
        self,
        on_startup: Iterable[StartupHook] = (),
        while_serving: Iterable[AbstractAsyncContextManager[object]] = (),
    ) -> None:
        hooks, contexts = tuple(on_startup), tuple(while_serving)
        for hook in hooks:
            if not callable(hook):
                raise TypeError(f"on_startup must hold async callables, not {type(hook).__name__}")
        for context in contexts:
            if not hasattr(context, "__aenter__"):
                name = type(context).__name__
                raise TypeError(f"while_serving must hold async context managers, not {name}")
        super().__init__()
        self._on_startup = hooks
        self._while_serving = contexts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        token = SERVING_SCOPE.set(scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            SERVING_SCOPE.reset(token)

    async def send_response(self, response: HttpResponseBase, send: Send) -> None:
        if isinstance(response, ServedResponse):
            scope = SERVING_SCOPE.get()
            assert scope is not None, "set by __call__ for every request"
            await response.serve(scope, send)
        else:
            await super().send_response(response, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Answer the lifespan protocol: start (a failure reported by name), and at shutdown
        leave the `while_serving` contexts, last first."""
        async with AsyncExitStack() as serving:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    failed = await self._start(serving)
                    if failed is not None:
                        await send({"type": "lifespan.startup.failed", "message": failed})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await serving.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _start(self, serving: AsyncExitStack) -> str | None:
        """Run the start-up hooks, then enter the `while_serving` contexts; what failed, if any."""
        step = "on_startup"
        try:
            for hook in self._on_startup:
                await hook()
            step = "while_serving"
            for context in self._while_serving:
                await serving.enter_async_context(context)
        except Exception as exc:
            _logger.exception("an %s step failed", step)
            return f"{step} failed: {type(exc).__name__}: {exc}"
        return None


def get_asgi_application(
    *,
    on_startup: Iterable[StartupHook] = (),
    while_serving: Iterable[AbstractAsyncContextManager[object]] = (),
) -> ASGIHandler:
    """Django's `get_asgi_application()`, with ssekit's handler: use it in `asgi.py`.

    `on_startup`: async callables awaited when the server starts, for example
    `[ssekit.warm_up]`. `while_serving`: async context managers entered after them
    and left, last first, when the server stops, for example a
    [`ResumableStreams`][ssekit.resume.ResumableStreams], whose answers must outlive
    their requests. Both need the ASGI lifespan (uvicorn, hypercorn, granian; daphne
    sends no lifespan events).
    """
    django.setup(set_prefix=False)
    return ASGIHandler(on_startup, while_serving)

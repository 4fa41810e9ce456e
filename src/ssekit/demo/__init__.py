"""The chat demo behind ``ssekit serve``: an htmx page that streams a bot's answer token by token.

``demo_app(bot)`` is a plain ASGI app (``ssekit.chat_app`` at ``/chat``);
``framework="starlette" | "litestar" | "quart"`` builds the same demo on that
framework, streaming through its ssekit adapter, which is imported only then.

Routes: ``GET /`` the page; ``POST /turn`` (the htmx form) the user's bubble
and an empty assistant bubble; ``POST /chat`` ``{"messages": [...]}`` or ``GET
/chat?message=...`` the answer as Server-Sent Events; ``GET /static/<file>``
htmx, ``sse-client.js``, the page script and its CSS. Beside them, whatever the
framework, the same bot speaks the protocols chat front ends use (``protocols``):
``POST /api/chat`` (the AI SDK's ``useChat``), ``POST /ag-ui`` (AG-UI clients),
``/v1/chat/completions``, ``/v1/responses`` and ``/v1/models`` (OpenAI clients).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from .._request import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_MESSAGE_LENGTH,
    DEFAULT_MAX_MESSAGES,
    ChatLimits,
)
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from .protocols import ProtocolRoutes

if TYPE_CHECKING:
    from ..resume import ResumableStreams

__all__ = ["FRAMEWORKS", "ASGIApp", "FrameworkMissing", "check_framework", "demo_app"]

#: The frameworks the demo can be served with; ``asgi`` needs none.
FRAMEWORKS = ("asgi", "starlette", "litestar", "quart")
#: Each framework's adapter: (its import name, the distribution to install).
_ADAPTERS = {
    "starlette": ("ssekit_starlette", "ssekit-starlette"),
    "litestar": ("ssekit_litestar", "ssekit-litestar"),
    "quart": ("ssekit_quart", "ssekit-quart"),
}
ASGIApp: TypeAlias = Callable[..., Awaitable[None]]


class FrameworkMissing(ImportError):
    """The framework asked for, or its ssekit adapter, is not installed."""


def check_framework(framework: str) -> None:
    """Fail with an install hint unless ``framework`` can serve the demo here."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    if framework == "asgi":
        return
    module, distribution = _ADAPTERS[framework]
    for name in (framework, module):
        if importlib.util.find_spec(name) is None:
            raise FrameworkMissing(
                f"the {framework} demo needs {distribution} ({name} is not installed):"
                f" pip install {distribution}"
            )


def demo_app(
    bot: StreamingBot,
    framework: str = "asgi",
    *,
    shutdown: ShutdownSignal | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    max_messages: int | None = DEFAULT_MAX_MESSAGES,
    max_message_length: int | None = DEFAULT_MAX_MESSAGE_LENGTH,
    resume: ResumableStreams | None = None,
) -> ASGIApp:
    """The demo serving ``bot``, as an ASGI app built with ``framework``.

    ``shutdown``: set it when the server starts shutting down, and the answers
    still streaming end at once (with an error event saying so), so that the
    server's graceful shutdown is not held up by open streams.

    ``max_body``, ``max_messages``, ``max_message_length``: the limits of
    ``/chat`` and of the protocol endpoints, as for ``chat_app``; every framework
    enforces them, the body's while it is read.

    ``resume``: answers are resumable (``chat_app(bot, resume=resume)``, whose
    ``/chat/streams/<sid>`` routes the demo serves): the page resumes an answer
    after a dropped connection or a reload, and Stop stops the model. The
    ``asgi`` demo only; its lifespan runs the streams.
    """
    limits = ChatLimits(max_body, max_messages, max_message_length)
    check_framework(framework)
    if resume is not None and framework != "asgi":
        raise ValueError(f"resume is served by the asgi demo only, not the {framework} one")
    variant = importlib.import_module(f"{__name__}.{framework}")
    model = str(getattr(bot, "model_name", type(bot).__name__))
    build: Callable[..., ASGIApp] = variant.build
    extra = {} if resume is None else {"resume": resume}
    page = build(bot, model=model, shutdown=shutdown, limits=limits, **extra)
    return ProtocolRoutes(page, bot, model=model, shutdown=shutdown, limits=limits)

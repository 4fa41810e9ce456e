"""The htmx chat demo behind ``ssekit serve``, as an app object to serve yourself.

Run it with ``uv run uvicorn examples.htmx_demo:app`` and open http://127.0.0.1:8000
(or simply ``uv run ssekit serve``, which also checks the port and the model's
key, warms litellm up first and shuts down cleanly).

The demo's code is short and meant to be read, in ``src/ssekit/demo/``:

- ``static/index.html``: the page; its form ``hx-post``\\ s to ``/turn``.
- ``page.py``: ``/turn`` answers with the user's bubble and an empty assistant
  bubble carrying the message (all escaped).
- ``static/demo.js``: streams the answer into that bubble with ssekit's
  ``sse-client.js``: ``POST /chat`` through ``streamEvents`` or ``GET /chat``
  through ``EventSource``; Stop aborts; a server error and a lost connection are
  shown differently.
- ``asgi.py``: the plain-ASGI server (``ssekit.chat_app`` at ``/chat``);
  ``starlette.py``, ``litestar.py``, ``quart.py``: the same on each framework
  through its ssekit adapter.
"""

from __future__ import annotations

from typing import Any

from ssekit import AsyncSimpleBot, warm_up
from ssekit.demo import demo_app

bot = AsyncSimpleBot("You are a helpful assistant. Be brief.", stream_target="none")
demo = demo_app(bot)  # or demo_app(bot, "starlette"), "litestar", "quart"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The demo, with litellm's import (seconds) paid at start-up, not by the first answer."""
    if scope["type"] != "lifespan":
        await demo(scope, receive, send)
        return

    async def warm_up_on_startup() -> dict[str, Any]:
        message: dict[str, Any] = await receive()
        if message["type"] == "lifespan.startup":
            await warm_up()
        return message

    await demo(scope, warm_up_on_startup, send)  # the demo's own lifespan carries on as usual

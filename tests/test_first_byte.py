"""The first byte: the response and its heartbeat start within `ping`, however slow the model.

Through a real nginx with a short `proxy_read_timeout` (standing in for the usual
30-60 s), in front of uvicorn serving `chat_app` with its defaults (`prefetch` on):
a model that stays silent for three times that timeout still delivers its whole
answer, with the status and headers sent long before its first token. Without a
heartbeat, the same nginx answers 504 and the answer is lost: that control shows
the test can fail. The window is the shared engine's, so every adapter is held to the
same rule behind the same nginx, with `prefetch` asked for where the adapter takes it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ssekit import chat_app
from tests.support.endpoints import BUILDERS, Endpoint, build
from tests.support.nginx import nginx_in_front
from tests.support.servers import serve

READ_TIMEOUT = 2.0
NGINX_READ_TIMEOUT = f"{int(READ_TIMEOUT * 1000)}ms"
SILENCE = 3 * READ_TIMEOUT


class SlowThinker:
    """A reasoning model: silent for `SILENCE` seconds, then it answers."""

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        import anyio

        await anyio.sleep(SILENCE)
        for word in ["thought ", "for ", "a ", "while"]:
            yield word


def ask(port: int, path: str = "/") -> tuple[int, float, str | None]:
    """POST a question through nginx: the status, when the headers came, and the body
    (`None` if nginx cut the response)."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}{path}"
    with (
        httpx.Client(timeout=SILENCE * 3) as client,
        client.stream("POST", url, json={"messages": ["hi"]}) as response,
    ):
        headers_after = time.monotonic() - started
        try:
            body: str | None = response.read().decode()
        except httpx.RemoteProtocolError:
            body = None
    return response.status_code, headers_after, body


@pytest.mark.parametrize("ping", [1.0, None], ids=["heartbeat", "no-heartbeat"])
def test_a_silent_model_still_answers_through_nginx(ping: float | None, tmp_path: Path) -> None:
    app = chat_app(SlowThinker(), ping=ping)
    with (
        serve(app) as running,
        nginx_in_front(running.port, tmp_path, read_timeout=NGINX_READ_TIMEOUT) as port,
    ):
        status, headers_after, body = ask(port)
    if ping is None:
        # The control: silence longer than the proxy's read timeout loses the answer.
        assert status == 504 or body is None
        return
    assert status == 200 and body is not None
    assert headers_after < ping + 0.5  # the prefetch window is at most half of ping
    assert body.count(": ping\n") >= SILENCE // ping - 1
    assert "data: thought \n\n" in body and "data: while\n\n" in body
    assert body.endswith("event: done\nid: ssekit-finished\ndata: \n\n")


#: Quart sends its status before the body starts, so it refuses `prefetch=True` (docs/adapters.md).
NO_PREFETCH = {"quart", "quart-lent"}


@pytest.mark.parametrize("target", sorted(BUILDERS))
def test_every_adapter_answers_a_silent_model_through_nginx(target: str, tmp_path: Path) -> None:
    options = {"ping": 1.0} if target in NO_PREFETCH else {"ping": 1.0, "prefetch": True}
    app = build(target, Endpoint(bot=SlowThinker(), options=options))
    with (
        serve(app) as running,
        nginx_in_front(running.port, tmp_path, read_timeout=NGINX_READ_TIMEOUT) as port,
    ):
        status, headers_after, body = ask(port, "/chat")
    assert status == 200 and body is not None, (status, body)
    assert headers_after < 1.0 + 0.5
    assert body.count(": ping\n") >= SILENCE // 1.0 - 1
    assert "data: thought \n\n" in body and "data: while\n\n" in body
    # `core` serves `chat_app`, which marks its answer finished; the adapters serve `sse_stream`.
    finished = "id: ssekit-finished\n" if target == "core" else ""
    assert body.endswith(f"event: done\n{finished}data: \n\n"), body[-80:]

"""The engine's guarantees under the AI SDK and AG-UI protocols, seen by their npm clients.

Heartbeat comments during a long reasoning phase (both clients ignore them:
proved by running them), and shutdown, which ends each stream with the
protocol's own terminal frames (read by the clients and raw). A client leaving
closes the bot: `test_ai_sdk_client.py` (stop) and `test_ag_ui_client.py`
(abortRun).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx

from ssekit import ReasoningDelta, ShutdownSignal, chat_app
from tests.support.bots import ThinkingBot
from tests.support.js_clients import ag_ui_run, ai_sdk
from tests.support.servers import serve
from tests.support.ui_wire import ag_ui_events, ai_sdk_chunks

UI_USER = [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]
AG_USER = [{"id": "u", "role": "user", "content": "hi"}]
RUN = {"threadId": "t", "runId": "r", "messages": AG_USER}
#: Where each protocol is served in these tests, and the body a raw reader posts.
PATHS = {"ai-sdk": "/api/chat", "ag-ui": "/ag-ui"}
RAW_BODIES: dict[str, Any] = {"ai-sdk": {"id": "c", "messages": UI_USER}, "ag-ui": RUN}


def test_heartbeats_during_a_long_reasoning_phase_are_ignored_by_both_clients() -> None:
    bot = ThinkingBot(pause=0.6)
    with (
        serve(chat_app(bot, protocol="ai-sdk", ping=0.1)) as ui,
        serve(chat_app(bot, protocol="ag-ui", ping=0.1)) as ag,
    ):
        read = ai_sdk("read", ui.url + "/api/chat", chatId="c", messages=UI_USER)
        run = ag_ui_run(ag.url + "/ag-ui", threadId="t", messages=AG_USER)
        ui_raw = httpx.post(ui.url + "/api/chat", json=RAW_BODIES["ai-sdk"], timeout=30).content
        ag_raw = httpx.post(ag.url + "/ag-ui", json=RUN, timeout=30).content
    assert read["errors"] == [] and read["thrown"] is None
    parts = {part["type"]: part.get("text") for part in read["message"]["parts"]}
    assert parts["reasoning"] == "Thinking hard." and parts["text"] == "Done."
    assert run["failed"] is None and run["runError"] is None
    messages = {message["role"]: message.get("content") for message in run["messages"]}
    assert messages["reasoning"] == "Thinking hard." and messages["assistant"] == "Done."
    for body in (ui_raw, ag_raw):
        assert body.count(b": ping\n") >= 6  # ~1.2 s of silence at 0.1 s
    ai_sdk_chunks(ui_raw)  # httpx-sse skips the comments; every event is still checked
    ag_ui_events(ag_raw)


class EndlessBot:
    """Reasons, then streams a token every 10 ms until it is closed; counts its streams."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.closed = 0

    async def stream_async(self, *messages: Any) -> AsyncIterator[Any]:
        self.started.release()
        try:
            yield ReasoningDelta("Hmm.")
            while True:
                await anyio.sleep(0.01)
                yield " tick"
        finally:
            self.closed += 1


def in_thread(target: Callable[[], dict[str, Any]], into: list[dict[str, Any]]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.append(target()))
    thread.start()
    return thread


def raw_stream(url: str, body: dict[str, Any], into: list[dict[str, Any]]) -> threading.Thread:
    def read() -> dict[str, Any]:
        return {"body": httpx.post(url, json=body, timeout=30).content}

    return in_thread(read, into)


def shut_down_during(protocol: str, message: str | None) -> tuple[dict[str, Any], bytes]:
    """The client's answer and a raw stream's bytes, both cut by the server's shutdown."""
    signal, bot = ShutdownSignal(), EndlessBot()
    app = chat_app(bot, protocol=protocol, shutdown=signal, ping=None, shutdown_message=message)
    client: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    with serve(app, on_shutdown=signal.drain) as running:
        url = running.url + PATHS[protocol]
        if protocol == "ai-sdk":
            threads = [in_thread(lambda: ai_sdk("chat", url, chatId="c", text="hi"), client)]
        else:
            threads = [in_thread(lambda: ag_ui_run(url, threadId="t", messages=AG_USER), client)]
        threads.append(raw_stream(url, RAW_BODIES[protocol], raw))
        for _ in threads:
            assert bot.started.acquire(timeout=30)
    for thread in threads:
        thread.join(30)
    assert bot.closed == 2
    return client[0], raw[0]["body"]


def test_shutdown_ends_an_ai_sdk_stream_with_an_error_chunk_and_done() -> None:
    client, body = shut_down_during("ai-sdk", "the server is shutting down")
    assert client["status"] == "error" and client["finish"]["isError"] is True
    assert client["error"]["message"] == "the server is shutting down"
    chunks = ai_sdk_chunks(body)  # [DONE] last
    assert chunks[-1] == {"type": "error", "errorText": "the server is shutting down"}


def test_shutdown_without_a_message_finishes_an_ai_sdk_answer_as_interrupted() -> None:
    client, body = shut_down_during("ai-sdk", None)
    assert client["status"] == "ready" and client["error"] is None
    assert client["finish"]["finishReason"] == "interrupted"
    assert client["finish"]["isError"] is False
    *_, end, finish_step, finish = ai_sdk_chunks(body)
    assert end["type"] == "text-end" and finish_step == {"type": "finish-step"}
    assert finish == {"type": "finish", "finishReason": "interrupted"}


def test_shutdown_ends_an_ag_ui_run_with_run_error() -> None:
    client, body = shut_down_during("ag-ui", "the server is shutting down")
    expected = {"type": "RUN_ERROR", "message": "the server is shutting down", "code": "shutdown"}
    assert client["runError"] == expected and client["failed"] is None
    assert client["events"][-1] == expected
    events = ag_ui_events(body)
    assert events[-1].model_dump(mode="json", by_alias=True, exclude_unset=True) == expected


def test_shutdown_without_a_message_finishes_an_ag_ui_run_as_cancelled() -> None:
    client, body = shut_down_during("ag-ui", None)
    assert client["failed"] is None and client["runError"] is None
    kinds = [event["type"] for event in client["events"]]
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert client["events"][-1]["outcome"] == {"type": "cancelled"}
    assert type(ag_ui_events(body)[-1]).__name__ == "RunFinishedEvent"


def test_a_request_once_the_shutdown_began_gets_a_503_both_clients_report() -> None:
    """No bot is started; the answer is ssekit's JSON error with `Retry-After`, and each
    protocol's client fails the request with its text."""
    signal, bot = ShutdownSignal(), EndlessBot()
    signal.set()
    with (
        serve(chat_app(bot, protocol="ai-sdk", shutdown=signal)) as ui,
        serve(chat_app(bot, protocol="ag-ui", shutdown=signal)) as ag,
    ):
        urls = {"ai-sdk": ui.url + PATHS["ai-sdk"], "ag-ui": ag.url + PATHS["ag-ui"]}
        raw = [httpx.post(urls[name], json=RAW_BODIES[name], timeout=30) for name in urls]
        chat = ai_sdk("chat", urls["ai-sdk"], chatId="c", text="hi")
        run = ag_ui_run(urls["ag-ui"], threadId="t", messages=AG_USER)
    for answer in raw:
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert answer.json() == {"error": {"status": 503, "message": "the server is shutting down"}}
    assert chat["status"] == "error"
    assert "the server is shutting down" in chat["error"]["message"]
    assert run["failed"] is not None and "the server is shutting down" in str(run["failed"])
    assert not bot.started.acquire(timeout=0)

"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for the bot's tests.

It speaks just enough HTTP/1.1 (``POST /v1/chat/completions``, streamed as
chunked ``text/event-stream``) for litellm's OpenAI provider, and records for
every response how many chunks it sent and *when the client closed the
connection*: that timestamp (``time.monotonic()``, shared with the test's
process) is what proves that cancelling the bot closes the upstream request.

The request's ``model`` picks the behaviour, so one server serves every case:

``stream``          ``chunk_count`` chunks, one every ``chunk_interval`` seconds
``unauthorized``    401 whose body echoes the API key (as OpenAI's does)
``rate-limited``    429
``internal-error``  500 whose body names an internal URL
``dies-midway``     3 chunks, then the connection is closed mid-body
``stalls``          accepts the request and never answers
``stalls-midway``   2 chunks, then silence
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


@dataclass
class ResponseRecord:
    """What the server did for one request (written by the server's thread)."""

    model: str
    api_key: str
    body: dict[str, Any]
    started_at: float
    chunks_sent: int = 0
    client_closed_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def closed_by_client(self) -> bool:
        return self.client_closed_at is not None


def reply_words(count: int) -> list[str]:
    """The text deltas of the ``stream`` scenario, distinct so a reordering would show."""
    return [f" word{index}" for index in range(count)]


class FakeOpenAI:
    """The server's state; start it with :func:`serve_fake_openai`."""

    def __init__(self, chunk_count: int, chunk_interval: float) -> None:
        self.chunk_count = chunk_count
        self.chunk_interval = chunk_interval
        self.responses: list[ResponseRecord] = []
        self.url = ""

    async def finished_response(self, model: str, timeout: float = 5.0) -> ResponseRecord:
        """The one response given for ``model``, once the server is done with it.

        Polls without blocking the caller's event loop, which may still have a
        socket to close.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = [record for record in self.responses if record.model == model]
            if records and records[0].done.is_set():
                assert len(records) == 1, f"{len(records)} requests for {model!r}: retries?"
                return records[0]
            await asyncio.sleep(0.002)
        raise AssertionError(f"the server did not finish answering {model!r} within {timeout}s")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = _parse_headers(head)
            body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
        except (asyncio.IncompleteReadError, ValueError):
            writer.close()
            return
        api_key = headers.get("authorization", "").removeprefix("Bearer ")
        record = ResponseRecord(
            model=body.get("model", ""),
            api_key=api_key,
            body=body,
            started_at=time.monotonic(),
        )
        self.responses.append(record)
        # The client sends nothing after its request: EOF here means it closed the connection.
        watcher = asyncio.ensure_future(reader.read(1))
        watcher.add_done_callback(lambda _: _mark_closed(record))
        try:
            await self._respond(record, writer, watcher)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            watcher.cancel()
            if watcher.done() and not watcher.cancelled():
                watcher.exception()  # a reset connection: retrieved so it is not reported
            writer.close()
            record.done.set()

    async def _respond(
        self, record: ResponseRecord, writer: asyncio.StreamWriter, watcher: asyncio.Future[bytes]
    ) -> None:
        scenario = record.model
        if scenario == "unauthorized":
            message = f"Incorrect API key provided: {record.api_key}. You can find your API key at https://platform.openai.com/account/api-keys."
            await _send_json(
                writer, 401, {"error": {"message": message, "code": "invalid_api_key"}}
            )
        elif scenario == "rate-limited":
            message = "Rate limit reached for org-Secret0rg1d in project proj_internal (tier 1)."
            await _send_json(writer, 429, {"error": {"message": message, "type": "rate_limit"}})
        elif scenario == "internal-error":
            message = "upstream http://10.0.3.7:8080/internal/v1/generate failed; see http://gpu-7.internal.corp:9000/debug"
            await _send_json(writer, 500, {"error": {"message": message, "type": "server_error"}})
        elif scenario == "stalls":
            await watcher
        elif scenario in ("stream", "dies-midway", "stalls-midway"):
            count = {"stream": self.chunk_count, "dies-midway": 3, "stalls-midway": 2}[scenario]
            await self._stream(record, writer, watcher, count)
            if scenario == "stream":
                await _write_chunk(writer, b"data: [DONE]\n\n")
                await _write_chunk(writer, b"")
            elif scenario == "stalls-midway":
                await watcher
            # dies-midway: return without ending the chunked body; the connection closes.
        else:
            await _send_json(writer, 404, {"error": {"message": f"unknown model {scenario}"}})

    async def _stream(
        self,
        record: ResponseRecord,
        writer: asyncio.StreamWriter,
        watcher: asyncio.Future[bytes],
        count: int,
    ) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        for index, word in enumerate(reply_words(count)):
            if index:
                # Wait between chunks, but stop at once if the client goes away.
                await asyncio.wait({watcher}, timeout=self.chunk_interval)
            if watcher.done():
                return
            delta = {"role": "assistant", "content": word} if index == 0 else {"content": word}
            await _write_chunk(writer, _event(record.model, delta, None))
            record.chunks_sent += 1
        await _write_chunk(writer, _event(record.model, {}, "stop"))


def _mark_closed(record: ResponseRecord) -> None:
    if record.client_closed_at is None and not record.done.is_set():
        record.client_closed_at = time.monotonic()


def _parse_headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def _event(model: str, delta: dict[str, str], finish_reason: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


async def _write_chunk(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    await writer.drain()


async def _send_json(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    writer.write(
        f"HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


@contextlib.contextmanager
def serve_fake_openai(chunk_count: int = 40, chunk_interval: float = 0.02) -> Iterator[FakeOpenAI]:
    """Run a :class:`FakeOpenAI` in a background thread until the block ends."""
    fake = FakeOpenAI(chunk_count, chunk_interval)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    async def main() -> None:
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        ready.set()
        await stop.wait()
        server.close()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="fake-openai", daemon=True)
    thread.start()
    if not ready.wait(_START_TIMEOUT) or not fake.url:
        raise RuntimeError(f"the fake OpenAI server did not start: {errors}")
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(_STOP_TIMEOUT)
    if thread.is_alive():
        raise RuntimeError(f"the fake OpenAI server did not stop within {_STOP_TIMEOUT}s")
    if errors:
        raise errors[0]

"""No secret in an exception ever reaches the client, from the core, a bot or any adapter.

Every exception message in :data:`SECRETS` (API keys in several vendors' formats,
bearer tokens, URLs with credentials, internal host names and addresses,
tracebacks) is raised by a bot (at once, and after a token), by a producer given
straight to ``EventStreamResponse`` (with and without ``prefetch``), and comes back
in a fake OpenAI-compatible provider's error bodies to ``AsyncSimpleBot``. A raw
socket captures every byte the client receives, status line, headers and JSON error
bodies included, and none of the secrets' fragments may be among them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ssekit import AsyncSimpleBot, ChatRequest, EventStreamResponse, chat_app, warm_up
from tests.reliability.secrets import SECRETS, Secret, leaked
from tests.support.aclient import chat_request
from tests.support.fake_openai import FakeOpenAI, ResponseRecord, _send_json, serve_fake_openai
from tests.support.server_app import TARGETS, Options, build_app
from tests.support.servers import serve

pytestmark = pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning")


@pytest.fixture(autouse=True)
def quiet_ssekit_logger() -> Iterator[None]:
    """The failures are on purpose; their full text belongs in the (server's) log only."""
    logger = logging.getLogger("ssekit")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def exchange(port: int, request: bytes) -> bytes:
    """Every byte the server sends for ``request`` (``Connection: close``) until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = bytearray()
        while data := sock.recv(65536):
            received += data
    return bytes(received)


class SecretBot:
    """``"<index> <tokens>"``: ``tokens`` tokens, then raise ``SECRETS[index]``."""

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        index, tokens = (int(part) for part in messages[-1].split())
        for number in range(tokens):
            yield f"token {number} "
        raise RuntimeError(SECRETS[index].message)


def check(raw: bytes, secret: Secret, where: str) -> None:
    assert raw.startswith(b"HTTP/1.1 "), f"{where}: no response: {raw!r}"
    found = leaked(raw, secret.fragments)
    assert not found, f"{where}: {found} reached the client:\n{raw.decode(errors='replace')}"


SERVER_OF = {"quart": "hypercorn-asyncio", "quart-lent": "hypercorn-asyncio"}


@pytest.mark.parametrize("target", TARGETS)
def test_a_bot_raising_secrets_through_each_target(target: str) -> None:
    app = build_app(target, Options(bot=SecretBot(), ping=None))
    with serve(app, SERVER_OF.get(target, "uvicorn")) as running:  # type: ignore[arg-type]
        for index, secret in enumerate(SECRETS):
            for tokens in (0, 2):
                raw = exchange(running.port, chat_request([f"{index} {tokens}"]))
                check(raw, secret, f"{target}, {secret.name}, after {tokens} tokens")
                assert b"error" in raw  # the failure was reported, only without its secrets


def _direct_app() -> Any:
    """``EventStreamResponse`` given producers straight: raising, and yielding a bad event
    whose invalid field carries the secret (the refusal must not echo it)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        index, mode, prefetch = scope["query_string"].decode().split("-")
        message = SECRETS[int(index)].message

        async def produce() -> AsyncIterator[Any]:
            if mode == "mid":
                yield {"event": "message", "data": "token"}
            if mode == "bad":
                yield {"event": "message", "data": "x", "colour": message}
                yield {"event": "x\n" + message, "data": "x"}
            raise ConnectionError(message)

        response = EventStreamResponse(produce(), ping=None, prefetch=prefetch == "1")
        await response(scope, receive, send)

    return app


def test_producers_raising_secrets_straight_to_event_stream_response() -> None:
    with serve(_direct_app()) as running:
        for index, secret in enumerate(SECRETS):
            for mode in ("once", "mid", "bad"):
                for prefetch in "01":
                    query = f"{index}-{mode}-{prefetch}"
                    request = f"GET /?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    raw = exchange(running.port, request.encode())
                    check(raw, secret, f"EventStreamResponse, {secret.name}, {query}")


class SecretProvider(FakeOpenAI):
    """The fake provider, answering model ``secret-<i>`` with ``SECRETS[i]`` in its error
    body (statuses 400, 401, 403, 404, 429, 500, 503 in turn)."""

    async def _respond(
        self, record: ResponseRecord, writer: asyncio.StreamWriter, watcher: asyncio.Future[bytes]
    ) -> None:
        if not record.model.startswith("secret-"):
            await super()._respond(record, writer, watcher)
            return
        index = int(record.model.removeprefix("secret-"))
        status = (400, 401, 403, 404, 429, 500, 503)[index % 7]
        error = {"message": SECRETS[index].message, "type": "invalid_request_error"}
        await _send_json(writer, status, {"error": error})


def test_async_simple_bot_given_secrets_by_its_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # litellm's import (and first call) is paid here, not within the first exchange's 10 s
    # read timeout: on a busy machine the import alone can take longer than that.
    asyncio.run(warm_up())
    monkeypatch.setattr("tests.support.fake_openai.FakeOpenAI", SecretProvider)
    with serve_fake_openai() as provider:
        provider.__class__ = SecretProvider
        key = "sk-proj-ClientKey0123456789abcdefghijklmnopqrstuv"

        def bot_for(request: ChatRequest) -> AsyncSimpleBot:
            return AsyncSimpleBot(
                "You are terse.",
                model_name=f"openai/{request.messages[-1]}",
                api_base=f"{provider.url}/v1",
                api_key=key,
                stream_target="none",
            )

        with serve(chat_app(bot_for, ping=None)) as running:
            for index, secret in enumerate(SECRETS):
                raw = exchange(running.port, chat_request([f"secret-{index}"]))
                check(raw, secret, f"AsyncSimpleBot, {secret.name}")
                assert not leaked(raw, ("sk-proj-ClientKey", "0123456789abcdefghijklmnop"))
                status = int(raw.split()[1])
                assert status == 500, raw  # prefetch: the provider failed before any token
                body = json.loads(raw.partition(b"\r\n\r\n")[2])
                assert body["error"]["status"] == 500

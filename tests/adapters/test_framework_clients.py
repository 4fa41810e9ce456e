"""Each adapter under its framework's own test client: what a user's test suite would see.

These clients run the app in-process and some collect the whole body before
returning it, so they are used for finite answers only (bytes, headers, HEAD,
errors, the chat example); streaming, heartbeats and disconnects are covered
on real servers in :mod:`tests.adapters.test_shared_suite`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.adapters.apps import PROBE, SECRET, fastapi_app, litestar_app, quart_app, starlette_app
from tests.adapters.wire import EXPECTED_HEADERS, new_key, tokens


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


Fetch = Callable[..., Reply]


def _httpx_style(client: Any) -> Fetch:
    """Starlette's and Litestar's clients share httpx's request API."""

    def fetch(method: str, path: str, json: Any = None) -> Reply:
        response = client.request(method, path, json=json)
        return Reply(response.status_code, dict(response.headers), response.content)

    return fetch


@pytest.fixture(
    params=[
        "starlette",
        "fastapi-return",
        "fastapi-response_class",
        "litestar",
        "quart",
        "quart-lent",
    ]
)
def fetch(request: pytest.FixtureRequest) -> Iterator[Fetch]:
    name = request.param
    if name.startswith("quart"):
        yield _quart_fetch(quart_app(lend=name == "quart-lent"))
        return
    if name == "litestar":
        from litestar.testing import TestClient as LitestarClient

        with LitestarClient(litestar_app()) as litestar_client:
            yield _httpx_style(litestar_client)
        return
    from starlette.testclient import TestClient

    app = starlette_app() if name == "starlette" else fastapi_app(response_class="class" in name)
    with TestClient(app) as starlette_client:
        yield _httpx_style(starlette_client)


def _quart_fetch(app: Any) -> Fetch:
    async def call(method: str, path: str, json: Any) -> Reply:
        async with app.test_client() as client:
            options = {} if json is None else {"json": json}
            response = await client.open(path, method=method, **options)
            body = await response.get_data()
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, headers, body)

    def fetch(method: str, path: str, json: Any = None) -> Reply:
        return asyncio.run(call(method, path, json))

    return fetch


def test_bytes_and_headers(fetch: Fetch) -> None:
    reply = fetch("GET", "/finite?n=3")
    assert reply.status == 200
    assert {name: reply.headers.get(name) for name in EXPECTED_HEADERS} == EXPECTED_HEADERS
    assert reply.body == tokens(0, 1, 2)


def test_head_never_runs_the_producer(fetch: Fetch) -> None:
    key = new_key()
    reply = fetch("HEAD", f"/hold?key={key}")
    assert reply.status == 200
    assert reply.headers["content-type"] == EXPECTED_HEADERS["content-type"]
    assert reply.body == b""
    assert not PROBE.started_event(key).is_set()


def test_error_event(fetch: Fetch) -> None:
    body = fetch("GET", "/fail").body
    assert body.startswith(tokens(0) + b"event: error\ndata: ")
    assert SECRET.encode() not in body


def test_bad_event_refused(fetch: Fetch) -> None:
    body = fetch("GET", "/bad").body
    assert body.startswith(tokens(0) + b"event: error\ndata: ")
    assert b"id: 1" not in body


def test_seed_chat_example(fetch: Fetch) -> None:
    reply = fetch("POST", "/chat", json={"messages": ["hi"]})
    assert reply.status == 200
    assert reply.body == b"event: message\ndata: hi \n\nevent: done\ndata: \n\n"
    assert fetch("POST", "/chat", json={"messages": []}).status == 400

"""Behind each framework's compression middleware and Starlette's ``BaseHTTPMiddleware``.

For each stack: events arrive one by one as they are produced (the producer
yields the next one only after the client saw the previous one, so a buffering
middleware would hang the test, not pass it), and a client leaving still closes
the producer. Quart has no compression middleware of its own (see
docs/adapters.md). Django's stack is a project's typical ``MIDDLEWARE``, with
``GZipMiddleware`` in it (``tests/support/django_project.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.adapters.apps import PROBE, django_app, fastapi_app, litestar_app, starlette_app
from tests.adapters.wire import client, new_key, read_until, tokens, wait_for
from tests.support.servers import Running, serve


def _gzip() -> list[Any]:
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware

    return [Middleware(GZipMiddleware, minimum_size=1)]


def _base_http() -> list[Any]:
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.requests import Request
    from starlette.responses import Response

    async def tag(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["x-middleware"] = "ran"
        return response

    return [Middleware(BaseHTTPMiddleware, dispatch=tag)]


def _litestar_gzip() -> Any:
    from litestar.config.compression import CompressionConfig

    return litestar_app(compression_config=CompressionConfig(backend="gzip", minimum_size=1))


def _django_typical() -> Any:
    from tests.support.django_project import TAG_MIDDLEWARE, TYPICAL_MIDDLEWARE

    return django_app([*TYPICAL_MIDDLEWARE, TAG_MIDDLEWARE])


STACKS: dict[str, tuple[Callable[[], Any], str | None, str | None]] = {
    # name: (app, content-encoding expected, header the middleware adds)
    "starlette+gzip": (lambda: starlette_app(_gzip()), None, None),
    "starlette+BaseHTTPMiddleware": (lambda: starlette_app(_base_http()), None, "x-middleware"),
    "fastapi+gzip+BaseHTTPMiddleware": (
        lambda: fastapi_app(response_class=False, middleware=_gzip() + _base_http()),
        None,
        "x-middleware",
    ),
    "litestar+gzip": (_litestar_gzip, "gzip", None),
    "django+typical-middleware": (_django_typical, None, "x-middleware"),
}


@pytest.fixture(scope="module", params=list(STACKS))
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[Running, str | None, str | None]]:
    make_app, encoding, added_header = STACKS[request.param]
    with serve(make_app(), "uvicorn") as running:
        yield running, encoding, added_header


def test_events_arrive_one_by_one_and_disconnect_closes(
    stack: tuple[Running, str | None, str | None],
) -> None:
    running, encoding, added_header = stack
    key = new_key()
    headers = {"accept-encoding": "gzip"}
    url = f"{running.url}/stepped?n=3&key={key}"
    with client() as http, http.stream("GET", url, headers=headers) as response:
        assert response.headers.get("content-encoding") == encoding
        if added_header is not None:
            assert response.headers[added_header] == "ran"
        chunks = response.iter_bytes()  # decoded as it arrives
        seen = read_until(chunks, tokens(0))
        PROBE.release(key)
        seen = read_until(chunks, tokens(1), seen=seen)
        assert not PROBE.closed_event(key).is_set()
    wait_for(PROBE.closed_event(key), "the producer's finally after the client left")
    assert seen.replace(b": ping\n", b"") == tokens(0, 1)


def test_heartbeat_gets_through(stack: tuple[Running, str | None, str | None]) -> None:
    running, _, _ = stack
    with client() as http:
        url = f"{running.url}/idle?key={new_key()}"
        with http.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
            read_until(response.iter_bytes(), b": ping\n")


def test_uncompressed_clients_are_unaffected(stack: tuple[Running, str | None, str | None]) -> None:
    running, _, _ = stack
    response = httpx.get(f"{running.url}/finite?n=2", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert response.content == tokens(0, 1)

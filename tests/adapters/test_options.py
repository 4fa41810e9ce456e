"""Bad input is refused where a response is built, with the core's own errors, in every adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ssekit import EventStreamResponse

BUILDERS: dict[str, Callable[..., Any]] = {"core": EventStreamResponse}


def _register() -> None:
    from ssekit_django import sse_response as django_sse
    from ssekit_litestar import sse_response as litestar_sse
    from ssekit_quart import sse_response as quart_sse
    from ssekit_starlette import EventSourceResponse
    from ssekit_starlette import sse_response as starlette_sse

    BUILDERS["starlette"] = starlette_sse
    BUILDERS["starlette-response_class"] = lambda events, **options: (
        EventSourceResponse.with_options(**options)(events)
    )
    BUILDERS["litestar"] = litestar_sse
    BUILDERS["quart"] = quart_sse
    BUILDERS["django"] = django_sse


_register()


async def _events() -> AsyncIterator[dict[str, str]]:
    yield {"data": "x"}


BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"ping": -1}, ValueError, "ping"),
    ({"ping": "15"}, TypeError, "ping"),
    ({"send_timeout": float("inf")}, ValueError, "send_timeout"),
    ({"headers": {"x-a": "1\r\nx-b: 2"}}, ValueError, "headers"),
    ({"error_event": "bad\nname"}, ValueError, "error_event"),
    ({"status_code": 99}, ValueError, "status_code"),
    ({"max_buffer": 0}, ValueError, "max_buffer"),
    ({"pings": 1}, TypeError, "pings"),
]


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize(("options", "error", "field"), BAD)
def test_bad_option_is_refused_naming_it(
    builder: str, options: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        BUILDERS[builder](_events(), **options)


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize("events", ["not events", {"data": "x"}, 42])
def test_events_that_are_not_a_stream_are_refused(builder: str, events: object) -> None:
    with pytest.raises(TypeError, match="events"):
        BUILDERS[builder](events)


def test_quart_refuses_prefetch() -> None:
    with pytest.raises(ValueError, match="prefetch"):
        BUILDERS["quart"](_events(), prefetch=True)

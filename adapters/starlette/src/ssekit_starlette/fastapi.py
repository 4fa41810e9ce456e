"""FastAPI's SSE style (a generator endpoint with `response_class=`), streamed by ssekit's core.

FastAPI wraps a generator endpoint's items in a generator of its own that sleeps
after every item (so ssekit cannot coalesce ready events) and never closes the
endpoint's generator (its `finally` waits for the garbage collector). With
[EventStreamRoute][ssekit_starlette.fastapi.EventStreamRoute] as the router's
`route_class`, such an endpoint is instead called as a coroutine that returns
ssekit's response around the generator: the core pulls it directly, and closes
it when the client leaves.

```python
from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent
from ssekit_starlette.fastapi import EventStreamRoute

app = FastAPI()
app.router.route_class = EventStreamRoute  # before the routes are declared
```

Items keep FastAPI's meaning when `response_class` is FastAPI's
`EventSourceResponse`: a `fastapi.sse.ServerSentEvent` is sent with its `data`
JSON-encoded (`raw_data` as it is); any other object (a dict, a pydantic model)
becomes one event whose data is its JSON; ssekit's own `ServerSentEvent`s and
`bytes` pass as they are. With `ssekit_starlette.EventSourceResponse` (or
`.with_options(...)`) as `response_class`, items are ssekit's (a dict is an event).
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from fastapi import routing
from fastapi.dependencies.utils import (
    get_stream_item_type,
    get_typed_return_annotation,
    get_typed_signature,
)
from fastapi.encoders import jsonable_encoder
from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
from fastapi.sse import ServerSentEvent as FastAPIEvent
from fastapi.utils import create_model_field
from pydantic import BaseModel

from ssekit import EventLike, ServerSentEvent, check_options, close_producer

from . import EventSourceResponse

__all__ = ["EventStreamRoute"]


class EventStreamRoute(routing.APIRoute):
    """An `APIRoute` that streams generator endpoints through ssekit's core.

    It takes over a route whose endpoint is a generator function (async or not)
    and whose `response_class` is FastAPI's or ssekit's `EventSourceResponse`;
    every other route is FastAPI's, unchanged. The route's `status_code`, and
    background tasks, apply as usual; the stream options are ssekit's defaults,
    those of `ssekit_starlette.EventSourceResponse.with_options(...)` given as
    `response_class`, or those of `EventStreamRoute.with_options(...)`.
    """

    #: Stream options for every route of this class (see `with_options`).
    options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        response_class = kwargs.get("response_class")
        fastapi_items = _is_class(response_class, FastAPIEventSourceResponse)
        if _is_generator_function(endpoint) and (
            fastapi_items or _is_class(response_class, EventSourceResponse)
        ):
            if fastapi_items or response_class is None:
                response_class = EventSourceResponse.with_options(**self.options)
            kwargs["response_class"] = response_class
            status = kwargs.get("status_code") or 200
            endpoint = _returning_a_response(endpoint, response_class, fastapi_items, status)
        super().__init__(path, endpoint, **kwargs)

    @classmethod
    def with_options(cls, **options: Any) -> type[EventStreamRoute]:
        """A subclass whose streams use `options` (checked now): a router takes a class."""
        check_options(options)
        merged = {**cls.options, **options}
        return type(cls.__name__, (cls,), {"options": merged})


def _is_class(value: object, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


def _is_generator_function(endpoint: object) -> bool:
    return inspect.isasyncgenfunction(endpoint) or inspect.isgeneratorfunction(endpoint)


def _returning_a_response(
    endpoint: Callable[..., Any],
    response_class: type[EventSourceResponse],
    fastapi_items: bool,
    status_code: int,
) -> Callable[..., Any]:
    """A coroutine endpoint with `endpoint`'s parameters that returns the response.

    Its signature is `endpoint`'s, annotations resolved (FastAPI reads the
    dependencies from it), with no `__wrapped__`: FastAPI would look through it
    and find a generator again.
    """

    to_json = _item_json(endpoint)

    async def stream(*args: Any, **kwargs: Any) -> EventSourceResponse:
        events = endpoint(*args, **kwargs)
        if fastapi_items:
            is_async = isinstance(events, AsyncIterable)
            events = _async_events(events, to_json) if is_async else _SyncEvents(events, to_json)
        return response_class(events, status_code=status_code)

    signature = get_typed_signature(endpoint)
    stream.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=EventSourceResponse
    )
    for name in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(stream, name, getattr(endpoint, name, None))
    return stream


def _item_json(endpoint: Callable[..., Any]) -> Callable[[object], str]:
    """How FastAPI writes a plain item of `endpoint`'s: checked against and serialised as the
    item type of its return annotation (`AsyncIterator[Item]`), else `jsonable_encoder`'s JSON."""
    item_type = get_stream_item_type(get_typed_return_annotation(endpoint))
    if item_type is None or _is_class(item_type, FastAPIEvent):
        return _json
    field = create_model_field(
        name=f"StreamItem_{endpoint.__name__}", type_=item_type, mode="serialization"
    )

    def to_json(item: object) -> str:
        value, errors = field.validate(item, {}, loc=("response",))
        if errors:
            raise ValueError(f"a streamed item is not a {item_type!r}: {errors}")
        return field.serialize_json(value).decode()

    return to_json


async def _async_events(
    events: AsyncIterable[object], to_json: Callable[[object], str]
) -> AsyncIterator[EventLike | bytes]:
    """FastAPI's items as ssekit's; closing this closes `events` (the endpoint's generator)."""
    try:
        async for item in events:
            yield _as_ssekit_event(item, to_json)
    finally:
        await close_producer(events)


class _SyncEvents:
    """A sync generator endpoint's items as ssekit's, for the core to run in worker threads.

    The core may close it while a worker thread is still inside `next()` (the
    client left while the endpoint was producing); closing then must neither
    fail ("generator already executing") nor block the event loop until the item
    is ready: the worker thread closes the endpoint's generator as soon as its
    `next()` returns.
    """

    def __init__(self, events: Iterable[object], to_json: Callable[[object], str]) -> None:
        self._events = iter(events)
        self._to_json = to_json
        self._lock = threading.Lock()  # held by the thread inside next()
        self._closing = False

    def __iter__(self) -> Iterator[EventLike | bytes]:
        return self

    def __next__(self) -> EventLike | bytes:
        with self._lock:
            if self._closing:
                raise StopIteration
            item = next(self._events)
            if self._closing:  # closed while this thread was producing the item
                self._close_events()
                raise StopIteration
        return _as_ssekit_event(item, self._to_json)

    def close(self) -> None:
        self._closing = True
        if self._lock.acquire(blocking=False):  # else the thread in next() closes it
            try:
                self._close_events()
            finally:
                self._lock.release()

    def _close_events(self) -> None:
        close = getattr(self._events, "close", None)
        if callable(close):
            close()


def _as_ssekit_event(item: object, to_json: Callable[[object], str]) -> EventLike | bytes:
    """One item as ssekit writes it; the encoder checks a dict (CR/LF in a name: an error event)."""
    if isinstance(item, ServerSentEvent | bytes):
        return item
    if isinstance(item, FastAPIEvent):
        if item.raw_data is not None:
            data = item.raw_data
        else:
            data = "" if item.data is None else _json(item.data)
        if item.id is None and item.retry is None and item.comment is None:
            # The common token event: a dict takes the encoder's fast path.
            return {"data": data} if item.event is None else {"event": item.event, "data": data}
        return ServerSentEvent(data, item.event, item.id, item.retry, item.comment)
    return {"data": to_json(item)}


def _json(value: object) -> str:
    """JSON as FastAPI writes it: a pydantic model's own JSON, anything else through
    `jsonable_encoder` (datetimes, dataclasses, models nested in dicts)."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(jsonable_encoder(value))

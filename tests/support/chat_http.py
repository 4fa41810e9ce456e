"""Talk to a chat endpoint over real HTTP, as a client would: ``POST`` JSON or ``GET ?message=``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import httpx
import httpx_sse

from tests.support.parsers import Parsed


@dataclass
class Answer:
    status: int
    content_type: str
    #: The events, as httpx-sse parsed them (empty unless the answer was an event stream).
    events: list[Parsed] = field(default_factory=list)
    #: The body of an answer that was not an event stream.
    body: bytes = b""

    @property
    def text(self) -> str:
        """The streamed reply: the ``message`` events' data joined."""
        return "".join(event.data for event in self.events if event.event == "message")

    @property
    def final(self) -> Parsed:
        return self.events[-1]


def open_stream(
    client: httpx.Client, url: str, messages: list[str] | None, *, get: bool = False
) -> AbstractContextManager[httpx.Response]:
    """``POST url`` with ``{"messages": messages}``, or ``GET url?message=...``, streamed."""
    if get:
        return client.stream("GET", url, params=[("message", text) for text in messages or []])
    return client.stream("POST", url, json={"messages": messages})


def ask(
    base_url: str,
    messages: list[str] | None,
    *,
    path: str = "/chat",
    get: bool = False,
    timeout: float = 60.0,
) -> Answer:
    """One whole answer (``messages=None`` posts ``{"messages": null}``)."""
    with (
        httpx.Client(timeout=timeout) as client,
        open_stream(client, f"{base_url}{path}", messages, get=get) as response,
    ):
        return _answer(response)


def _answer(response: httpx.Response) -> Answer:
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        return Answer(response.status_code, content_type, body=response.read())
    return Answer(response.status_code, content_type, events=list(parsed_events(response)))


def parsed_events(response: httpx.Response) -> Iterator[Parsed]:
    for sse in httpx_sse.EventSource(response).iter_sse():
        yield Parsed(sse.event, sse.data, sse.id or None)

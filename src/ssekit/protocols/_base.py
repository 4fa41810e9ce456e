"""The protocol seam: what a wire protocol supplies, and how `chat_app` drives it.

A protocol is one stateless object per app ([Protocol][ssekit.protocols.Protocol]).
`chat_app(bot, protocol=...)` serves each request with it in four steps:

1. **read** — `await protocol.read(scope, read_body, limits)` turns the request
   into a [Turn][ssekit.protocols.Turn] (the bot's messages, the request's
   options, streamed or not), or a whole [Answer][ssekit.protocols.Answer] to
   send as it is (a `204`, `GET /v1/models`). A bad request raises
   [RequestRefused][ssekit.RequestRefused], which `protocol.refusal(refused)`
   words in the protocol's error shape (never a `500`: the limits are
   [ChatLimits][ssekit.protocols.ChatLimits], the JSON readers those of
   `ssekit._request`, shared by every protocol).
2. **bot** — the bot (or the bot factory, given a [ChatRequest][ssekit.ChatRequest]
   with the turn's messages and options) is built; if that fails,
   `protocol.failure(text)` is answered.
3. **stream** — `protocol.stream(bot, turn, options)` gives a
   [ProtocolStream][ssekit.protocols.ProtocolStream]: the producer of the
   protocol's events, and the per-stream [Framing][ssekit.Framing] that words the
   engine's own frames (failure, shutdown, the early HTTP error) in the same
   protocol. The engine serves it as every other stream (heartbeat, disconnect,
   send timeout, shutdown, bounded prefetch); `protocol.headers` are added to the
   response's.
4. **complete** — a turn that is not streamed (`turn.stream` false: OpenAI's
   `"stream": false`) is answered by `await protocol.complete(bot, turn,
   formatter)` with one JSON document, while the client is watched: if it
   leaves, the bot is closed.

Most protocols frame the bot's parts one by one: subclass
[PartFraming][ssekit.protocols.PartFraming] (`_framing.py` in this package).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from .._asgi import Answer
from .._exceptions import RequestRefused
from .._framing import Framing
from .._options import StreamOptions
from .._producer import Producer
from .._redact import ErrorFormatter, format_error
from .._request import ChatLimits, ReadBody, RequestScope, parse_json
from .._sse_stream import StreamingBot

__all__ = ["Protocol", "ProtocolStream", "Turn"]


@dataclass(frozen=True)
class Turn:
    """One request, read: what the bot is asked, and how the answer is wanted."""

    #: Which of the protocol's endpoints was asked (e.g. `"chat.completions"`).
    endpoint: str
    #: The bot's messages: `str`s, or role/content dicts (`stream_async(*messages)`).
    messages: tuple[str | Mapping[str, Any], ...]
    #: The request's other fields the protocol read (model, tools, temperature...);
    #: a bot factory may pass them on, nothing else does.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: `False`: answer with one JSON document (`Protocol.complete`), not a stream.
    stream: bool = True


class ProtocolStream(NamedTuple):
    """A protocol's answer as a stream: serve `events` with `framing`, `headers`, `defaults`.

    In a framework handler: `sse_response(stream.events, **stream.options)`.
    """

    events: Producer
    #: `None`: ssekit's own format (the engine builds it from the stream options).
    framing: Framing | None
    #: The protocol's own response headers.
    headers: tuple[tuple[str, str], ...] = ()
    #: The stream options the protocol's streams want (`Protocol.chat_defaults`).
    defaults: StreamOptions = {}  # noqa: RUF012  (a NamedTuple field, never mutated)

    @property
    def options(self) -> dict[str, Any]:
        """`defaults`, `framing=` and `headers=`, as every adapter's `sse_response` takes them.

        `prefetch` is among them (a bot failing at once gets the protocol's HTTP
        error): drop it for Quart, which sends the status before the first event.
        """
        return {**self.defaults, "framing": self.framing, "headers": dict(self.headers)}


class Protocol(ABC):
    """A wire protocol a chat front end speaks; one instance serves every request."""

    #: The name `chat_app(protocol=...)` takes.
    name: ClassVar[str]
    #: chat_app's stream options for this protocol, under the ones the user gives.
    chat_defaults: ClassVar[StreamOptions] = {"prefetch": True}
    #: Headers every stream of this protocol carries (after ssekit's, before the user's).
    headers: ClassVar[tuple[tuple[str, str], ...]] = ()

    @abstractmethod
    async def read(
        self, scope: RequestScope, read_body: ReadBody, limits: ChatLimits
    ) -> Turn | Answer:
        """The request as a turn, or a whole answer; `RequestRefused` for a bad one."""

    @abstractmethod
    def refusal(self, refused: RequestRefused) -> Answer:
        """A refused request's answer, in the protocol's error shape (`refused.headers` kept)."""

    @abstractmethod
    def failure(self, text: str) -> Answer:
        """The `500` answer (in the protocol's shape) to a bot that could not start."""

    @abstractmethod
    def stream(
        self, bot: StreamingBot, turn: Turn, options: StreamOptions | None = None
    ) -> ProtocolStream:
        """The bot's answer to `turn`, as this protocol's stream.

        `options` are the stream's (checked: `check_options`); `None`: the defaults.
        """

    def _stream(self, events: Producer, framing: Framing | None) -> ProtocolStream:
        """A stream of this protocol, with its headers and stream options."""
        return ProtocolStream(events, framing, self.headers, self.chat_defaults)

    async def complete(
        self, bot: StreamingBot, turn: Turn, formatter: ErrorFormatter = format_error
    ) -> Answer:
        """The bot's whole answer as one document (for `turn.stream` false).

        `formatter` words a failure (the stream option `error_formatter`'s job).
        """
        raise NotImplementedError(f"the {self.name} protocol always streams")

    def turn(self, endpoint: str, payload: Any, limits: ChatLimits) -> Turn:
        """A request's parsed JSON body as a turn of `endpoint`; `RequestRefused` if bad."""
        raise NotImplementedError(f"the {self.name} protocol reads its requests itself")

    def parse(self, endpoint: str, body: bytes, limits: ChatLimits | None = None) -> Turn:
        """A request body a framework has read, as a turn: for a framework's own handler.

        The same refusals as `read` (`413` over `limits.max_body`, `400` for a body
        that is not UTF-8 JSON nested at most 32 levels, or not the endpoint's shape).
        """
        limits = limits or ChatLimits()
        if len(body) > limits.max_body:
            raise RequestRefused(413, f"the request body is larger than {limits.max_body} bytes")
        return self.turn(endpoint, parse_json(body), limits)

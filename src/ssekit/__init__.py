"""ssekit: spec-exact Server-Sent Events for streaming LLM output from any ASGI host."""

from ._asgi import last_event_id
from ._bot import AsyncSimpleBot, warm_up
from ._bot_factory import ChatRequest
from ._chat import ChatApp, chat_app
from ._encoder import EventLike, encode, encode_comment, encode_many
from ._engine import EventStream
from ._event import ServerSentEvent
from ._exceptions import (
    ClientGone,
    ModelProviderError,
    RequestRefused,
    RequestTooLarge,
    SsekitError,
    StoreUnavailable,
    WriteTimeout,
)
from ._framing import Framing
from ._options import StreamOptions, check_options
from ._parts import Finish, Part, ReasoningDelta, ToolCallDelta, Usage
from ._producer import Item, Producer, close_producer
from ._pushed import EventSender, PushedEvents, pushed
from ._redact import ErrorFormatter, format_error, redact
from ._response import EventStreamResponse, PulledResponse, event_stream_bytes
from ._serve import serve
from ._shutdown import ShutdownSignal
from ._sse_stream import StreamingBot, sse_stream

__all__ = [
    "AsyncSimpleBot",
    "ChatApp",
    "ChatRequest",
    "ClientGone",
    "ErrorFormatter",
    "EventLike",
    "EventSender",
    "EventStream",
    "EventStreamResponse",
    "Finish",
    "Framing",
    "Item",
    "ModelProviderError",
    "Part",
    "Producer",
    "PulledResponse",
    "PushedEvents",
    "ReasoningDelta",
    "RequestRefused",
    "RequestTooLarge",
    "ServerSentEvent",
    "ShutdownSignal",
    "SsekitError",
    "StoreUnavailable",
    "StreamOptions",
    "StreamingBot",
    "ToolCallDelta",
    "Usage",
    "WriteTimeout",
    "chat_app",
    "check_options",
    "close_producer",
    "encode",
    "encode_comment",
    "encode_many",
    "event_stream_bytes",
    "format_error",
    "last_event_id",
    "pushed",
    "redact",
    "serve",
    "sse_stream",
    "warm_up",
]

__version__ = "0.1.0"

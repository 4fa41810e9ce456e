"""ssekit: spec-exact Server-Sent Events for streaming LLM output from any ASGI host."""

from ._bot import AsyncSimpleBot, ModelProviderError, warm_up
from ._chat import ChatApp, ChatRequest, chat_app
from ._encoder import EventLike, encode, encode_comment, encode_many
from ._engine import EventStream, Item, Producer, close_producer, event_stream_bytes
from ._event import ServerSentEvent
from ._redact import ErrorFormatter, format_error, redact
from ._response import EventStreamResponse, PulledResponse, last_event_id
from ._shutdown import ShutdownSignal
from ._sse_stream import StreamingBot, sse_stream

__all__ = [
    "AsyncSimpleBot",
    "ChatApp",
    "ChatRequest",
    "ErrorFormatter",
    "EventLike",
    "EventStream",
    "EventStreamResponse",
    "Item",
    "ModelProviderError",
    "Producer",
    "PulledResponse",
    "ServerSentEvent",
    "ShutdownSignal",
    "StreamingBot",
    "chat_app",
    "close_producer",
    "encode",
    "encode_comment",
    "encode_many",
    "event_stream_bytes",
    "format_error",
    "last_event_id",
    "redact",
    "sse_stream",
    "warm_up",
]

__version__ = "0.1.0"

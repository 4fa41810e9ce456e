"""ssekit: spec-exact Server-Sent Events for streaming LLM output from any ASGI host."""

from .bot import AsyncSimpleBot, ModelProviderError, warm_up
from .encoder import EventLike, encode, encode_comment, encode_many
from .errors import ErrorFormatter, format_error, redact
from .event import ServerSentEvent
from .stream import StreamingBot, sse_stream

__all__ = [
    "AsyncSimpleBot",
    "ErrorFormatter",
    "EventLike",
    "ModelProviderError",
    "ServerSentEvent",
    "StreamingBot",
    "encode",
    "encode_comment",
    "encode_many",
    "format_error",
    "redact",
    "sse_stream",
    "warm_up",
]

__version__ = "0.1.0"

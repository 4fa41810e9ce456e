"""The wire protocols chat front ends speak, on ssekit's engine.

`chat_app(bot, protocol=name)` serves one of them; the same pieces serve a
framework's own handler (see docs/protocols.md):

```python
protocol = OpenAIProtocol()
turn = protocol.parse(protocol.CHAT, body)   # or RequestRefused: protocol.refusal(...)
stream = protocol.stream(bot, turn)
return sse_response(stream.events, **stream.options)
```

| name | module | front ends |
|---|---|---|
| `"ssekit"` (default) | `_ssekit` | `EventSource`, ssekit's JS client, `fetch` |
| `"openai"` | `_openai` | the `openai` SDKs, anything OpenAI-compatible |
| `"ai-sdk"` | `_ai_sdk` | the Vercel AI SDK's `useChat` and chat transports |
| `"ag-ui"` | `_ag_ui` | AG-UI clients: `@ag-ui/client`'s `HttpAgent`, CopilotKit |

A new protocol subclasses [Protocol][ssekit.protocols.Protocol] (`_base`: the
four steps `chat_app` runs) and, for its stream, [PartFraming][ssekit.protocols.PartFraming]
(`_part_framing`: opening, one frame per part, closing, and the engine's own
frames); then it is added to `PROTOCOLS` below.
"""

from __future__ import annotations

from collections.abc import Callable

from .._asgi import Answer, json_answer
from .._request import ChatLimits, read_json
from ._ag_ui import AGUIProtocol
from ._ai_sdk import AISDKProtocol
from ._base import Protocol, ProtocolStream, Turn
from ._openai import OpenAIProtocol
from ._part_framing import PartFraming, open_parts
from ._ssekit import SsekitProtocol

__all__ = [
    "PROTOCOLS",
    "AGUIProtocol",
    "AISDKProtocol",
    "Answer",
    "ChatLimits",
    "OpenAIProtocol",
    "PartFraming",
    "Protocol",
    "ProtocolStream",
    "SsekitProtocol",
    "Turn",
    "json_answer",
    "open_parts",
    "protocol_named",
    "read_json",
]

#: Each protocol `chat_app(protocol=...)` takes by name, and how it is built.
PROTOCOLS: dict[str, Callable[..., Protocol]] = {
    "ssekit": SsekitProtocol,
    "openai": OpenAIProtocol,
    "ai-sdk": AISDKProtocol,
    "ag-ui": AGUIProtocol,
}


def protocol_named(protocol: str | Protocol, **ssekit_options: str | None) -> Protocol:
    """The protocol `chat_app` serves: an instance as it is, or one built by name.

    `ssekit_options` (`event_type`, `done_event`; `None`: not given) name the `"ssekit"`
    protocol's events; given for another protocol, they are a `TypeError`.
    """
    given = {name: value for name, value in ssekit_options.items() if value is not None}
    if isinstance(protocol, Protocol):
        if given:
            raise TypeError(f"{', '.join(given)}: pass them to the protocol, not to chat_app")
        return protocol
    if not isinstance(protocol, str):
        raise TypeError(f"protocol must be a name or a Protocol, not {type(protocol).__name__}")
    build = PROTOCOLS.get(protocol)
    if build is None:
        names = ", ".join(repr(name) for name in PROTOCOLS)
        raise ValueError(f"unknown protocol {protocol!r}; the protocols are {names}")
    if protocol == "ssekit":
        return build(**given)
    if given:
        raise TypeError(f"{', '.join(given)} name the ssekit protocol's events, not {protocol}'s")
    return build()

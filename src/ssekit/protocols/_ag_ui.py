"""The AG-UI protocol: what an AG-UI client (`@ag-ui/client`'s `HttpAgent`, CopilotKit) runs.

`chat_app(bot, protocol="ag-ui")` answers `POST` of a `RunAgentInput`
(`_ag_ui_request`) on whatever path it is served, with the run's events
(`_ag_ui_stream`): `RUN_STARTED`, the text, reasoning and tool call events,
`RUN_FINISHED`, or `RUN_ERROR` for a failure or a shutdown.

Errors before the stream are ssekit's JSON (`{"error": {"status",
"message"}}`; AG-UI defines no error body): `400` for a body that is not a
`RunAgentInput` ssekit can pass to a bot, `405` another method (with `Allow:
POST`), `413`, `415`, `500` a bot that fails before its first part. The
`HttpAgent` fails its run with that status and text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._asgi import Answer
from .._exceptions import RequestRefused
from .._options import StreamOptions
from .._request import ChatLimits, ReadBody, RequestScope, read_json
from .._sse_stream import StreamingBot
from ._ag_ui_request import RUN, run_turn
from ._ag_ui_stream import RunFraming
from ._base import Protocol, ProtocolStream, Turn
from ._part_framing import open_parts
from ._wire import PlainErrors

__all__ = ["AGUIProtocol"]


class AGUIProtocol(PlainErrors, Protocol):
    """AG-UI 1.0 over Server-Sent Events (its `text/event-stream` transport)."""

    name = "ag-ui"
    #: The endpoint, as `Turn.endpoint` (and `parse`) name it.
    RUN: ClassVar[str] = RUN

    async def read(
        self, scope: RequestScope, read_body: ReadBody, limits: ChatLimits
    ) -> Turn | Answer:
        method = scope["method"]
        if method != "POST":
            raise RequestRefused(405, f"use POST, not {method}", [(b"allow", b"POST")])
        return self.turn(RUN, await read_json(scope, read_body, limits.max_body), limits)

    def turn(self, endpoint: str, payload: Any, limits: ChatLimits) -> Turn:
        """`endpoint` is `AGUIProtocol.RUN`."""
        if endpoint != RUN:
            raise ValueError(f"endpoint must be {RUN!r}, not {endpoint!r}")
        return run_turn(payload, limits)

    def stream(
        self, bot: StreamingBot, turn: Turn, options: StreamOptions | None = None
    ) -> ProtocolStream:
        framing = RunFraming(turn.options["threadId"], turn.options["runId"])
        return self._stream(framing.events(open_parts(bot, turn.messages)), framing)

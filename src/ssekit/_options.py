"""Every option a stream takes, its default, and the check it must pass — in one place.

A bad option is a programming mistake, so it fails when the response (or app,
or engine) is *built*, with a `TypeError` or `ValueError` naming the option,
never mid-stream. [StreamOptions][ssekit.StreamOptions] is what
`EventStreamResponse`, `EventStream`, `chat_app` and every adapter's
`sse_response` accept as keyword arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from ._event import ServerSentEvent
from ._redact import ErrorFormatter, format_error
from ._wire import check_id, check_name

if TYPE_CHECKING:
    from ._framing import Framing
    from ._shutdown import ShutdownSignal

__all__ = [
    "DEFAULT_PREFETCH_WINDOW",
    "StreamOptions",
    "check_count",
    "check_limit",
    "check_options",
    "check_seconds",
    "prefetch_window",
]

#: How long `prefetch=True` waits for the first event before starting the response anyway.
DEFAULT_PREFETCH_WINDOW = 1.0


class StreamOptions(TypedDict, total=False):
    """The options of every event stream (all keyword arguments, all optional).

    - `ping` (`15.0`): seconds without output before a `: ping` comment frame;
      `None` turns the heartbeat off.
    - `send_timeout` (`30.0`): seconds one write may stay blocked (a client that
      stopped reading) before the client is dropped and the producer closed;
      `None` waits forever.
    - `max_buffer` (`65536`): bytes that may wait for a slow client before the
      producer is made to wait too.
    - `error_event` (`"error"`): the event name of the stream's own error events.
    - `error_formatter` (`format_error`): turns an exception into the one line
      an error event carries (secrets masked); the whole error is logged.
    - `finished_id` (`None`): the `id` the producer puts on its last event; the
      stream's own error event carries it too, and a reconnect sending it back as
      `Last-Event-ID` is answered `204 No Content`.
    - `prefetch` (`False`): wait up to this many seconds (`True`: 1 s; never more
      than half of `ping`) for the first event before the response starts, so a
      producer that fails at once gets an HTTP `500` with a JSON body instead of
      `200` and an error event.
    - `shutdown` (`None`): a [ShutdownSignal][ssekit.ShutdownSignal]; once set,
      the stream ends cleanly.
    - `shutdown_message` (`"the server is shutting down"`): the data of the error
      event that ends a stream at shutdown; `None`: end without one.
    - `framing` (`None`: ssekit's own format): a [Framing][ssekit.Framing], one per
      stream, that words the stream's own error and shutdown frames and its early
      HTTP error in another protocol's shape (`ssekit.protocols` builds them).
    - `ping_message` (`None`: a `: ping` comment): what the heartbeat sends instead,
      the same each time: a [ServerSentEvent][ssekit.ServerSentEvent] or seed-style
      dict, e.g. `ServerSentEvent(comment="keepalive")` (a comment no client
      dispatches) or `{"event": "ping", "data": ""}` (an event a page can listen
      to). It may not carry an `id`: the client would take a heartbeat for the
      last event it received.
    """

    ping: float | None
    send_timeout: float | None
    max_buffer: int
    error_event: str
    error_formatter: ErrorFormatter
    finished_id: str | None
    prefetch: bool | float
    shutdown: ShutdownSignal | None
    shutdown_message: str | None
    framing: Framing | None
    ping_message: ServerSentEvent | Mapping[str, Any] | None


def check_seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    """A finite number of seconds > 0 (or `None` when `optional`)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number of seconds or None" if optional else "a number of seconds"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, not {value!r}")
    return float(value)


def check_count(name: str, value: object) -> int:
    """An `int` >= 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, not {value}")
    return value


def check_limit(name: str, value: object) -> int | None:
    """An `int` >= 1, or `None`: no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    return check_count(name, value)


def _finished_id(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str or None")
    return check_id(name, value)


def _prefetch(name: str, value: object) -> bool | float:
    if isinstance(value, bool):
        return value
    if not isinstance(value, (int, float)) or not (value >= 0 and math.isfinite(value)):
        raise TypeError(f"{name} must be a bool or a number of seconds >= 0, not {value!r}")
    return float(value)


def _callable(name: str, value: object) -> Any:
    if not callable(value):
        raise TypeError(f"{name} must be callable, not {type(value).__name__}")
    return value


def _shutdown(name: str, value: object) -> Any:
    from ._shutdown import ShutdownSignal

    if value is not None and not isinstance(value, ShutdownSignal):
        raise TypeError(f"{name} must be a ShutdownSignal, not {type(value).__name__}")
    return value


def _framing(name: str, value: object) -> Any:
    from ._framing import Framing

    if value is not None and not isinstance(value, Framing):
        raise TypeError(f"{name} must be a Framing, not {type(value).__name__}")
    return value


def _ping_message(name: str, value: object) -> ServerSentEvent | None:
    if value is None or isinstance(value, ServerSentEvent):
        event = value
    elif isinstance(value, Mapping):
        try:
            event = ServerSentEvent.from_mapping(value)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from None
    else:
        raise TypeError(
            f"{name} must be a ServerSentEvent, a dict or None, not {type(value).__name__}"
        )
    if event is not None and event.id is not None:
        raise ValueError(
            f"{name} must not carry an id (a heartbeat is not an event to resume from)"
        )
    return event


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be str or None, not {type(value).__name__}")
    return value


def _buffer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of bytes, not {type(value).__name__}")
    return check_count(name, value)


#: Each option's default and check, in the order of `StreamOptions`.
_RULES: dict[str, tuple[object, Callable[[str, Any], object]]] = {
    "ping": (15.0, lambda name, value: check_seconds(name, value, optional=True)),
    "send_timeout": (30.0, lambda name, value: check_seconds(name, value, optional=True)),
    "max_buffer": (64 * 1024, _buffer),
    "error_event": ("error", check_name),
    "error_formatter": (format_error, _callable),
    "finished_id": (None, _finished_id),
    "prefetch": (False, _prefetch),
    "shutdown": (None, _shutdown),
    "shutdown_message": ("the server is shutting down", _optional_str),
    "framing": (None, _framing),
    "ping_message": (None, _ping_message),
}


def check_options(
    given: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> StreamOptions:
    """Every option, checked, with `defaults` (then the library's) for those not given.

    An unknown name is a `TypeError` naming it, as a misspelt keyword argument would be.
    """
    unknown = given.keys() - _RULES.keys()
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"unknown option(s) {names}; the options are {', '.join(_RULES)}")
    options: dict[str, object] = {}
    for name, (default, check) in _RULES.items():
        if name in given:
            value = given[name]
        else:
            value = defaults.get(name, default) if defaults else default
        options[name] = check(name, value)
    return options  # type: ignore[return-value]  # every key of StreamOptions, checked


def prefetch_window(options: StreamOptions) -> float:
    """Seconds to wait for the first event before starting the response (0: do not wait).

    Never more than half of `ping`: the response, and with it the heartbeat, must
    start in time for proxies that drop a connection silent for longer.
    """
    prefetch = options["prefetch"]
    window = DEFAULT_PREFETCH_WINDOW if prefetch is True else float(prefetch)
    ping = options["ping"]
    return window if ping is None else min(window, ping / 2)

"""Every option's default and check, from the one place they live (`ssekit._options`)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ssekit import ServerSentEvent, ShutdownSignal, format_error
from ssekit._options import _RULES, StreamOptions, check_options, prefetch_window

BAD: list[tuple[str, Any, type[Exception]]] = [
    ("ping", 0, ValueError),
    ("ping", -1.0, ValueError),
    ("ping", math.inf, ValueError),
    ("ping", math.nan, ValueError),
    ("ping", "15", TypeError),
    ("ping", True, TypeError),
    ("send_timeout", 0, ValueError),
    ("send_timeout", "30", TypeError),
    ("max_buffer", 0, ValueError),
    ("max_buffer", 1.5, TypeError),
    ("max_buffer", True, TypeError),
    ("error_event", "", ValueError),
    ("error_event", "a\nevent: forged", ValueError),
    ("error_event", None, TypeError),
    ("error_formatter", "format_error", TypeError),
    ("finished_id", "", TypeError),
    ("finished_id", "a\nb", ValueError),
    ("finished_id", 3, TypeError),
    ("prefetch", -1, TypeError),
    ("prefetch", "yes", TypeError),
    ("prefetch", math.inf, TypeError),
    ("shutdown", object(), TypeError),
    ("shutdown_message", 42, TypeError),
    ("framing", "openai", TypeError),
    ("ping_message", ": keepalive", TypeError),
    ("ping_message", {"event": "ping", "id": "7"}, ValueError),
    ("ping_message", {"event": "a\nb"}, ValueError),
    ("ping_message", {"colour": "red"}, TypeError),
]


@pytest.mark.parametrize(("name", "value", "error"), BAD)
def test_a_bad_option_is_refused_naming_it(name: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=name):
        check_options({name: value})


def test_an_unknown_option_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="pingg"):
        check_options({"pingg": 1.0})


def test_every_option_has_a_default_and_the_typed_dict_names_them_all() -> None:
    options = check_options({})
    assert set(options) == set(StreamOptions.__annotations__) == set(_RULES)
    assert options == {
        "ping": 15.0,
        "send_timeout": 30.0,
        "max_buffer": 65536,
        "error_event": "error",
        "error_formatter": format_error,
        "finished_id": None,
        "prefetch": False,
        "shutdown": None,
        "shutdown_message": "the server is shutting down",
        "framing": None,
        "ping_message": None,
    }


def test_given_options_win_over_the_callers_defaults_which_win_over_the_librarys() -> None:
    signal = ShutdownSignal()
    options = check_options({"ping": 2, "shutdown": signal}, {"ping": 5.0, "prefetch": True})
    assert options["ping"] == 2.0 and isinstance(options["ping"], float)
    assert options["prefetch"] is True and options["shutdown"] is signal
    assert check_options({"ping": None, "send_timeout": None})["ping"] is None


@pytest.mark.parametrize(
    ("prefetch", "ping", "window"),
    [
        (False, 15.0, 0.0),
        (True, 15.0, 1.0),
        (0.25, 15.0, 0.25),
        (10, 15.0, 7.5),  # never more than half of ping: the heartbeat starts in time
        (True, 1.0, 0.5),
        (5, None, 5.0),  # no heartbeat to keep: the window as given
    ],
)
def test_the_prefetch_window(prefetch: bool | float, ping: float | None, window: float) -> None:
    assert prefetch_window(check_options({"prefetch": prefetch, "ping": ping})) == window


def test_a_ping_message_given_as_a_dict_is_checked_into_an_event() -> None:
    options = check_options({"ping_message": {"event": "ping", "data": "{}"}})
    assert options["ping_message"] == ServerSentEvent(event="ping", data="{}")

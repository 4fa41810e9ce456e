"""`ssekit.serve`'s refusals: a wrong argument fails at once, naming it, before serving.

Serving itself (signals, streams, exit) is tested with real processes in tests/test_serve.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

from ssekit import ShutdownSignal, serve


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Never called: every case here is refused before a server starts."""


SIGNAL = ShutdownSignal(grace=2)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"server": "gunicorn"}, ValueError, "server must be one of uvicorn, hypercorn"),
        ({"app": 42}, TypeError, "app must be an ASGI app or an import string, not int"),
        ({"shutdown": 2.0}, TypeError, "shutdown must be a ShutdownSignal or None, not float"),
        ({"shutdown": None}, ValueError, "pass shutdown= .* or, when the app sets its own"),
        ({"graceful_timeout": 2}, ValueError, r"graceful_timeout \(2 s\) must be greater than"),
        ({"graceful_timeout": "5"}, TypeError, "graceful_timeout must be a number of seconds"),
        ({"graceful_timeout": float("inf")}, ValueError, "graceful_timeout must be a finite"),
        ({"workers": 0}, ValueError, "workers must be >= 1"),
        ({"workers": 2}, TypeError, "with workers > 1, app must be an import string"),
        ({"workers": 2, "app": "main:app"}, ValueError, "each worker has its own signal"),
        (
            {"workers": 2, "app": "main:app", "shutdown": None, "server": "hypercorn"},
            ValueError,
            "workers > 1 needs server='uvicorn'",
        ),
        ({"port": 70000}, ValueError, "port must be an int from 0 to 65535"),
        ({"host": b"::1"}, TypeError, "host must be a str, not bytes"),
        ({"sock": 3}, TypeError, "sock must be a bound socket.socket, not int"),
        ({"timeout_graceful_shutdown": 9}, TypeError, "does not take .* use graceful_timeout="),
        ({"reload": True}, TypeError, "does not take reload: use `uvicorn app:app --reload`"),
        ({"log_levl": "info"}, TypeError, "log_levl"),
        ({"server": "hypercorn", "bind": ["x"]}, TypeError, "does not take bind: use host="),
        ({"server": "hypercorn", "log_levl": "x"}, TypeError, "log_levl is not a hypercorn"),
    ],
)
def test_a_wrong_argument_is_refused_at_once(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    call = {"app": app, "shutdown": SIGNAL, "port": 0, **arguments}
    if "sock" in arguments:
        del call["port"]
    with pytest.raises(error, match=message):
        serve(call.pop("app"), **call)


def test_sock_and_host_together_are_refused() -> None:
    with socket.socket() as sock, pytest.raises(ValueError, match="either sock or host/port"):
        serve(app, shutdown=SIGNAL, sock=sock, host="127.0.0.1")


def test_an_app_import_string_must_name_an_attribute() -> None:
    with pytest.raises(ValueError, match="'package.module:attribute', not 'main'"):
        serve("main", shutdown=SIGNAL, server="hypercorn", port=0)


@pytest.mark.parametrize(
    ("server", "missing", "install"),
    [
        ("uvicorn", "uvicorn", "pip install uvicorn"),
        ("hypercorn", "hypercorn", "pip install hypercorn"),
        ("hypercorn-trio", "trio", "pip install hypercorn trio"),
    ],
)
def test_a_server_that_is_not_installed_is_named_with_what_to_install(
    server: str, missing: str, install: str
) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{missing!r}] = None  # as if it were not installed\n"
        "import ssekit\n"
        "try:\n"
        "    ssekit.serve(lambda *a: None, shutdown=ssekit.ShutdownSignal(),"
        f" server={server!r}, port=0)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == (
        f"ssekit.serve(server={server!r}) needs {missing}, which is not installed: {install}"
    )

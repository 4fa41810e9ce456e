"""Daphne (Django's ASGI server, on Twisted) in a thread of the test process.

Twisted's reactor cannot be restarted once stopped, so one daphne server runs for
the whole session, started by the first test that needs it, in a daemon thread;
each app served gets its own listening port on it (daphne's own HTTP factory, as
`daphne -p PORT` would use), and a dispatcher hands each connection to the app of
the port it arrived on (the ASGI scope's `server`). The reactor stops when the
test process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_START_TIMEOUT = 15.0
_lock = threading.Lock()
_apps: dict[int, Any] = {}
_server: Any = None


async def _dispatch(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _apps[int(scope["server"][1])](scope, receive, send)


def _running_server() -> Any:
    """The session's daphne server, started on first use."""
    global _server
    with _lock:
        if _server is not None:
            return _server
        from daphne.server import Server
        from twisted.internet import reactor

        started = threading.Event()
        server = Server(
            _dispatch,
            # A first port, which run() needs; each app's port is added next to it.
            endpoints=["tcp:port=0:interface=127.0.0.1"],
            signal_handlers=False,
            verbosity=0,
            ready_callable=started.set,
        )
        thread = threading.Thread(target=server.run, name="daphne", daemon=True)
        thread.start()
        if not started.wait(_START_TIMEOUT):
            raise RuntimeError("daphne's reactor did not start")
        twisted: Any = reactor
        atexit.register(lambda: twisted.callFromThread(twisted.stop))
        _server = server
        return server


def _on_reactor(call: Any) -> Any:
    """Run ``call()`` on the reactor's thread; return what its Deferred gives."""
    from twisted.internet import reactor

    done = threading.Event()
    outcome: list[Any] = []

    def settled(result: Any) -> None:
        outcome.append(result)
        done.set()

    def run() -> None:
        call().addBoth(settled)

    twisted: Any = reactor
    twisted.callFromThread(run)
    if not done.wait(_START_TIMEOUT):
        raise TimeoutError("daphne's reactor did not answer")
    result = outcome[0]
    if hasattr(result, "raiseException"):  # a twisted Failure
        result.raiseException()
    return result


@contextlib.contextmanager
def serve_daphne(app: Any, port: int) -> Iterator[None]:
    """Serve ``app`` with daphne on ``127.0.0.1:port`` until the block ends."""
    server = _running_server()  # first: daphne must install Twisted's asyncio reactor
    from twisted.internet import defer, reactor
    from twisted.internet.endpoints import serverFromString as untyped_server_from_string

    server_from_string: Any = untyped_server_from_string
    _apps[port] = app
    endpoint = f"tcp:port={port}:interface=127.0.0.1"
    factory = server.http_factory  # daphne's HTTP protocol, as for its own ports
    listening = _on_reactor(lambda: server_from_string(reactor, endpoint).listen(factory))
    try:
        yield
    finally:
        _on_reactor(lambda: defer.maybeDeferred(listening.stopListening))
        _apps.pop(port, None)

"""`ssekit.serve` on hypercorn (asyncio or trio worker): a shutdown trigger that sets the signal.

Imported only by `serve(server="hypercorn" | "hypercorn-trio")`. hypercorn's
`serve()` takes a `shutdown_trigger`, an awaitable that returns when the server
should stop: this one returns on SIGTERM or SIGINT, after setting the app's
signal, so open streams end before hypercorn waits for its connections
(`graceful_timeout`).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable

from hypercorn.config import Config

from ._serve import Deadline, Plan, import_app
from ._shutdown_hook import STOP_SIGNALS, ASGIApp

__all__ = ["run"]

#: Options that `serve()` sets itself, and what to use instead.
_OWN_OPTIONS = {
    "bind": "host=/port= or sock=",
    "insecure_bind": "host=/port= or sock=",
    "graceful_timeout": "serve(graceful_timeout=)",
    "use_reloader": "hypercorn's own command line",
    "worker_class": "server='hypercorn' or 'hypercorn-trio'",
}


def run(plan: Plan, deadline: Deadline, *, trio: bool = False) -> None:
    """Serve `plan` in this process until SIGTERM or SIGINT."""
    config = _config(plan)
    app = import_app(plan.app) if isinstance(plan.app, str) else plan.app

    def stopping() -> None:
        deadline.arm()
        if plan.shutdown is not None:
            plan.shutdown.set()

    if trio:
        _run_trio(app, config, stopping)
        return
    from hypercorn.asyncio import serve

    async def trigger() -> None:
        loop, stop = asyncio.get_running_loop(), asyncio.Event()
        for number in STOP_SIGNALS:
            loop.add_signal_handler(number, stop.set)  # removed when the loop closes
        await stop.wait()
        stopping()

    asyncio.run(serve(app, config, shutdown_trigger=trigger))


def run_trio(plan: Plan, deadline: Deadline) -> None:
    run(plan, deadline, trio=True)


def _run_trio(app: ASGIApp, config: Config, stopping: Callable[[], None]) -> None:
    import trio
    from hypercorn.trio import serve

    async def trigger() -> None:
        with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
            async for _ in signals:
                break
        stopping()

    trio.run(functools.partial(serve, app, config, shutdown_trigger=trigger))


def _config(plan: Plan) -> Config:
    config = Config()
    for name, value in plan.options.items():
        if name in _OWN_OPTIONS:
            raise TypeError(f"serve() does not take {name}: use {_OWN_OPTIONS[name]}")
        if not hasattr(config, name):
            raise TypeError(f"{name} is not a hypercorn setting (hypercorn.config.Config)")
        setattr(config, name, value)
    if plan.sock is not None:
        # hypercorn takes over the descriptor it is given: give it its own.
        config.bind = [f"fd://{os.dup(plan.sock.fileno())}"]
    else:
        host = f"[{plan.host}]" if ":" in plan.host else plan.host
        config.bind = [f"{host}:{plan.port}"]
    config.graceful_timeout = plan.graceful_timeout
    return config

"""``ssekit serve --store`` and ``--workers``: the demo with resumable answers, on N processes.

``--store memory`` (the default with ``chat_app`` in one process) keeps each answer
in the serving process (a `MemoryStore`); ``--store none`` turns resuming off;
``--store redis://...`` in Redis (a `RedisStore`), which every worker reads, so
a resume or a Stop may reach any of them. ``--workers N`` runs N uvicorn worker
processes on the one socket the command bound: a reload or a resume lands on
whichever worker the kernel picks, which shows the cross-worker case on one
machine. Memory with several workers is refused: a resume that reached another
worker would get 404.

Each worker is a fresh process (uvicorn spawns it), so it builds the demo
itself from the settings the command leaves in ``$SSEKIT_SERVE_WORKER``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import socket
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from ._bot import AsyncSimpleBot, load_litellm
from ._shutdown import ShutdownSignal
from .demo import ASGIApp, demo_app

if TYPE_CHECKING:
    from .resume import ResumableStreams

__all__ = ["check_store", "default_store", "resumable_streams", "serve_workers", "worker_app"]

#: Where the command leaves the demo's settings for its worker processes (JSON).
SETTINGS_VARIABLE = "SSEKIT_SERVE_WORKER"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: How long the command waits for a worker to serve the page before it gives up announcing it.
_READY_TIMEOUT = 300.0


def default_store(store: str | None, framework: str, workers: int) -> str | None:
    """The store the demo uses: the one asked for (``none``: not resumable), else memory
    where it can resume (``chat_app`` in one process), else not resumable."""
    if store == "none":
        return None
    if store is None and framework == "asgi" and workers == 1:
        return "memory"
    return store


def check_store(store: str | None, framework: str, workers: int) -> str | None:
    """Why ``--store``/``--workers`` cannot serve the demo as asked, or ``None`` if they can."""
    if store is None:
        return None
    if framework != "asgi":
        return f"--store serves the demo through chat_app: use --framework asgi, not {framework}"
    if store == "memory":
        if workers > 1:
            return (
                "--store memory keeps each answer in one worker process: with --workers"
                f" {workers}, a resume or a Stop that reached another worker would get 404;"
                " use --store redis://HOST:PORT, or --workers 1"
            )
        return None
    if not store.startswith(_REDIS_SCHEMES):
        return f"--store must be memory or a redis://, rediss:// or unix:// URL, not {store!r}"
    if importlib.util.find_spec("redis") is None:
        return "--store redis:// needs the redis package: pip install 'ssekit[redis]'"
    return None


def resumable_streams(store: str | None) -> ResumableStreams | None:
    """The demo's resumable streams on ``store`` (checked by `check_store`), or ``None``."""
    if store is None:
        return None
    from .resume import MemoryStore, RedisStore, ResumableStreams

    return ResumableStreams(MemoryStore() if store == "memory" else RedisStore.from_url(store))


def serve_workers(
    sock: socket.socket, workers: int, settings: dict[str, Any], url: str, banner: str
) -> None:
    """Run ``workers`` uvicorn processes on ``sock`` until Ctrl-C or SIGTERM.

    The banner is printed once a worker serves the page (each one loads litellm
    first, which takes seconds). uvicorn's supervisor stops the workers; each
    gives its open streams uvicorn's graceful shutdown timeout.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ._cli import GRACEFUL_SHUTDOWN_SECONDS

    os.environ[SETTINGS_VARIABLE] = json.dumps(settings)
    config = uvicorn.Config(
        f"{__name__}:worker_app",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    threading.Thread(target=_announce, args=(url, banner), daemon=True).start()
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn took it
        server = uvicorn.Server(config)
        supervisor = Multiprocess(config, target=server.run, sockets=[sock])  # type: ignore[call-arg]
    else:
        supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()


def _announce(url: str, banner: str) -> None:
    """Print the banner once the page is served (bounded in time)."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/", timeout=2) as response:
                if response.status == 200:
                    print(banner, flush=True)
                    return
        except OSError:
            time.sleep(0.1)


def worker_app() -> ASGIApp:
    """The demo, built in a worker process from the command's settings (uvicorn's factory).

    Its own shutdown signal, hooked to the SIGTERM the supervisor sends the worker,
    ends the worker's open streams at once rather than leaving them to be cut at
    uvicorn's graceful shutdown timeout.
    """
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    load_litellm()
    bot = AsyncSimpleBot(settings["system"], model_name=settings["model"], stream_target="none")
    shutdown = ShutdownSignal()
    resume = resumable_streams(settings["store"])
    return shutdown.wrap(demo_app(bot, settings["framework"], shutdown=shutdown, resume=resume))

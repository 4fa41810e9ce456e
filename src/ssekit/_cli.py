"""The ``ssekit`` command: ``ssekit serve`` runs the chat demo on uvicorn.

It answers with ``ssekit.AsyncSimpleBot``, on the offline ``ssekit/echo``
model unless ``--model`` (or ``$SSEKIT_MODEL``) names another. What can be
known to be wrong before serving — a port in use, a framework or a key that is
missing — is one line on stderr and exit status 2, checked before litellm's
slow import where it can be. Ctrl-C or SIGTERM ends the answers still
streaming at once (the page shows why) and exits with status 0.

``--store`` makes the answers resumable and ``--workers`` runs several worker
processes: both live in ``_cli_workers.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib.util
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from ._bot import AsyncSimpleBot, load_litellm, warm_up
from ._cli_workers import check_store, resumable_streams, serve_workers
from ._shutdown import ShutdownSignal
from .demo import FRAMEWORKS, ASGIApp, FrameworkMissing, check_framework, demo_app

if TYPE_CHECKING:
    import uvicorn

__all__ = ["main"]

DEFAULT_SYSTEM = "You are a helpful assistant. Answer in a few sentences."
#: How long uvicorn waits for open connections once stopping (streams end at once anyway).
GRACEFUL_SHUTDOWN_SECONDS = 3
_USAGE_ERROR = 2


class Refusal(Exception):
    """Something the user can fix keeps the demo from starting; the message says what."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ssekit`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return serve(
            model=args.model,
            system=args.system,
            host=args.host,
            port=args.port,
            framework=args.framework,
            store=args.store,
            workers=args.workers,
        )
    except Refusal as refusal:
        print(f"ssekit serve: error: {refusal}", file=sys.stderr)
        return _USAGE_ERROR
    except KeyboardInterrupt:  # Ctrl-C while still starting
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssekit", description="ssekit's command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_command = commands.add_parser(
        "serve",
        help="run the chat demo",
        description="Serve the streaming chat demo: an htmx page and its /chat event stream.",
    )
    serve_command.add_argument(
        "--model", help="a litellm model name (default: $SSEKIT_MODEL, else ssekit/echo, offline)"
    )
    serve_command.add_argument("--system", default=DEFAULT_SYSTEM, help="the system prompt")
    serve_command.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve_command.add_argument(
        "--port", type=_port, default=8000, help="0 picks a free one (default: %(default)s)"
    )
    serve_command.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        default="asgi",
        help="serve the demo through this framework's ssekit adapter (default: %(default)s)",
    )
    serve_command.add_argument(
        "--store",
        metavar="memory|redis://...",
        help="make answers resumable (a reload continues them), kept in this process (memory)"
        " or in Redis (default: not resumable)",
    )
    serve_command.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="uvicorn worker processes; more than 1 needs --store redis://... to resume"
        " (default: %(default)s)",
    )
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1-64)")
    return int(text)


def serve(
    *,
    model: str | None,
    system: str,
    host: str,
    port: int,
    framework: str,
    store: str | None = None,
    workers: int = 1,
) -> int:
    """Check what can be checked, then serve the demo until Ctrl-C or SIGTERM."""
    for needed in ("uvicorn", "litellm"):
        if importlib.util.find_spec(needed) is None:
            raise Refusal(f"{needed} is not installed: pip install 'ssekit[serve]'")
    try:
        check_framework(framework)
    except FrameworkMissing as missing:
        raise Refusal(str(missing)) from None
    if (store_refused := check_store(store, framework, workers)) is not None:
        raise Refusal(store_refused)
    with _bound_socket(host, port) as sock:
        print("Loading litellm and the model (a few seconds)...", flush=True)
        litellm = load_litellm()
        bot = AsyncSimpleBot(system, model_name=model, stream_target="none")
        _check_key(litellm, bot.model_name)
        bound_port = sock.getsockname()[1]
        url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
        banner = f"ssekit demo on {url} (model {bot.model_name}, framework {framework})"
        banner += " — Ctrl-C to stop"
        for detail in _serving_details(store, workers):
            print(detail, flush=True)
        if workers > 1:
            settings = {"model": model, "system": system, "framework": framework, "store": store}
            serve_workers(sock, workers, settings, url, banner)
        else:
            shutdown = ShutdownSignal()
            app = demo_app(bot, framework, shutdown=shutdown, resume=resumable_streams(store))
            asyncio.run(_run(app, sock, shutdown, banner))
    print("ssekit demo stopped.", flush=True)
    return 0


def _serving_details(store: str | None, workers: int) -> Iterator[str]:
    """The lines said before the banner for ``--store`` and ``--workers`` (no Redis URL:
    it may hold a password)."""
    if store is not None:
        kept = "in this process" if store == "memory" else "in Redis"
        yield f"Answers are resumable, kept {kept}: reload the page mid-answer and it goes on."
    if workers > 1:
        yield f"Starting {workers} worker processes (each loads litellm)..."


@contextlib.contextmanager
def _bound_socket(host: str, port: int) -> Iterator[socket.socket]:
    """The server's socket, bound now: a port in use is reported before anything slow."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise Refusal(f"cannot listen on {host}:{port}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Refusal(
                    f"port {port} on {host} is already in use; stop what is using it,"
                    " or pick another port with --port"
                ) from None
            raise Refusal(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        yield sock


def _check_key(litellm: ModuleType, model: str) -> None:
    """Refuse a model whose provider needs an API key that the environment lacks."""
    try:
        report = litellm.validate_environment(model=model)
    except Exception:
        return  # a model litellm cannot check: the first answer will say what is wrong
    missing = [name for name in report.get("missing_keys", ()) if "KEY" in name or "TOKEN" in name]
    if missing and not report.get("keys_in_environment"):
        raise Refusal(
            f"model {model} needs an API key: set {' or '.join(missing)}"
            " (or leave out --model for the offline ssekit/echo model)"
        )


async def _run(app: ASGIApp, sock: socket.socket, shutdown: ShutdownSignal, banner: str) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    await warm_up()
    await _demo_server(config, shutdown, banner).serve(sockets=[sock])


def _demo_server(
    config: uvicorn.Config, shutdown_signal: ShutdownSignal, banner: str
) -> uvicorn.Server:
    import uvicorn

    class DemoServer(uvicorn.Server):
        """uvicorn, ending open event streams as soon as it is asked to stop.

        uvicorn waits for open connections before it shuts down, and an event
        stream stays open; the shutdown signal ends every stream at once (the
        recipe of docs/serving.md). A stop asked for is a normal exit: the
        signal is not raised again afterwards. The banner is printed once the
        server accepts connections.
        """

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                print(banner, flush=True)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            shutdown_signal.set()
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return DemoServer(config)

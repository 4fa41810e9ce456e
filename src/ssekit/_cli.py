"""The ``ssekit`` command: ``ssekit serve`` runs the chat demo on uvicorn.

It answers with ``ssekit.AsyncSimpleBot``, on the offline ``ssekit/echo``
model unless ``--model`` (or ``$SSEKIT_MODEL``) names another. What can be
known to be wrong before serving — a port in use, a framework or a key that is
missing — is one line on stderr and exit status 2, checked before litellm's
slow import where it can be. Ctrl-C or SIGTERM ends the answers still
streaming at once (the page shows why) and exits with status 0.

``--store`` says where resumable answers are kept (memory by default with
``chat_app`` in one process; ``none``: not resumable) and ``--workers`` runs
several worker processes: both live in ``_cli_workers.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import socket
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from ._asgi import Message, Receive, Send
from ._bot import AsyncSimpleBot, load_litellm, warm_up
from ._cli_workers import check_store, default_store, resumable_streams, serve_workers
from ._serve import serve as run_server
from ._shutdown import ShutdownSignal
from .demo import FRAMEWORKS, ASGIApp, FrameworkMissing, check_framework, demo_app

__all__ = ["main"]

DEFAULT_SYSTEM = "You are a helpful assistant. Answer in a few sentences."
#: How long the server waits for open connections once stopping (streams end at once anyway).
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
        metavar="memory|redis://...|none",
        help="where resumable answers are kept (a reload continues them): in this process"
        " (memory), in Redis, or nowhere (none: not resumable). Default: memory with the asgi"
        " framework and one worker, else none",
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
    _check_installed(framework)
    details = list(_serving_details(store, workers))  # said for what the user asked only
    store = default_store(store, framework, workers)
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
        for detail in details:
            print(detail, flush=True)
        if workers > 1:
            settings = {"model": model, "system": system, "framework": framework, "store": store}
            serve_workers(sock, workers, settings, url, banner)
        else:
            shutdown = ShutdownSignal()
            app = demo_app(bot, framework, shutdown=shutdown, resume=resumable_streams(store))
            sock.listen()  # requests wait in the backlog until the server takes them
            run_server(
                _announced(app, banner),
                shutdown=shutdown,
                sock=sock,
                graceful_timeout=GRACEFUL_SHUTDOWN_SECONDS,
                log_level="warning",
                access_log=False,
            )
    print("ssekit demo stopped.", flush=True)
    return 0


def _check_installed(framework: str) -> None:
    """A `Refusal` naming what to install, before litellm's slow import."""
    for needed in ("uvicorn", "litellm"):
        if importlib.util.find_spec(needed) is None:
            raise Refusal(f"{needed} is not installed: pip install 'ssekit[serve]'")
    try:
        check_framework(framework)
    except FrameworkMissing as missing:
        raise Refusal(str(missing)) from None


def _serving_details(store: str | None, workers: int) -> Iterator[str]:
    """The lines said before the banner for ``--store`` and ``--workers`` (no Redis URL:
    it may hold a password)."""
    if store is not None and store != "none":
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


def _announced(app: ASGIApp, banner: str) -> ASGIApp:
    """`app`, warming litellm up as the server starts, then printing `banner` once it has."""

    async def announced(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def warmed_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await warm_up()
            return message

        async def announcing_send(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                print(banner, flush=True)

        await app(scope, warmed_receive, announcing_send)

    return announced

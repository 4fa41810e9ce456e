"""A TCP proxy on 127.0.0.1 that cuts each answer after a number of body bytes the test picks.

Plain sockets, a thread per connection. For each connection it asks
`cut(request)` (the first bytes the client sent: enough to see the method and
path) how many bytes of the response *body* to forward before cutting (`None`:
never). The cut forwards exactly that many bytes — wherever they fall: inside an
event, a line, an HTTP chunk header — then ends the connection (FIN, so the
client reads those bytes first). `cuts` counts the answers cut before the server
had ended them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

__all__ = ["CuttingProxy", "cutting_proxy"]

_HEAD_END = b"\r\n\r\n"


class CuttingProxy:
    def __init__(self, upstream: int, cut: Callable[[bytes], int | None]) -> None:
        self._upstream = upstream
        self._cut = cut
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.cuts = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    def start(self) -> None:
        self._acceptor.start()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept(); close() does not
        self._listener.close()
        self._acceptor.join(10)
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(10)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._open.add(sock)
        return sock

    def _handle(self, client: socket.socket) -> None:
        self.connections += 1
        upstream = None
        self._track(client)
        try:
            upstream = self._track(socket.create_connection(("127.0.0.1", self._upstream), 5))
            request = client.recv(65536)
            upstream.sendall(request)
            limit = self._cut(request)
            forward = threading.Thread(target=_copy, args=(client, upstream), daemon=True)
            forward.start()
            if _answer(upstream, client, limit):
                with self._lock:
                    self.cuts += 1
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)  # the bytes sent arrive, then the end
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    sock.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)


def _answer(upstream: socket.socket, client: socket.socket, limit: int | None) -> bool:
    """Forward the answer; True if it was cut before the server ended it."""
    head: bytes | None = b""  # the response head until it is whole, then None
    body = 0
    while data := upstream.recv(65536):
        if head is not None:
            head += data
            end = head.find(_HEAD_END)
            if end < 0:
                client.sendall(data)
                continue
            in_body = head[end + len(_HEAD_END) :]
            client.sendall(data[: len(data) - len(in_body)])
            data, head = in_body, None
        if limit is not None and body + len(data) >= limit:
            client.sendall(data[: limit - body])
            return True
        body += len(data)
        client.sendall(data)
    return False


@contextlib.contextmanager
def cutting_proxy(upstream: int, cut: Callable[[bytes], int | None]) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(upstream, cut)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()

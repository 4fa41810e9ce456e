"""Raw-socket clients of the benchmark server: what every scenario reads streams with.

No HTTP library between the client and the server: a request is bytes on a new connection,
and a stream is read until a marker arrives, so what is timed is the server's work.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from typing import Any

#: The `Host` every request sends (Django answers only the hosts it allows).
HOST = "127.0.0.1"
#: The end of a chunked response.
END = b"\r\n0\r\n\r\n"
_START_TIMEOUT = 60.0


def request(path: str, *, close: bool = False, body: bytes | None = None) -> bytes:
    """A `GET path` request, or a `POST` of the JSON `body`; keeps the connection unless `close`."""
    method = "GET" if body is None else "POST"
    extra = "Connection: close\r\n" if close else ""
    if body is not None:
        extra += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode() + (body or b"")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Return once `port` accepts connections; fail if `process` exits or time runs out."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within {_START_TIMEOUT:g} s")


def get_json(port: int, path: str) -> Any:
    """The JSON body of `GET path` (the server's figures)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request(path, close=True))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def open_stream(
    port: int, path: str, timeout: float = 30.0, *, body: bytes | None = None
) -> socket.socket:
    """A raw HTTP/1.1 GET (a POST of the JSON `body`) on a new connection; response unread."""
    sock = socket.create_connection(("127.0.0.1", port), timeout)
    sock.sendall(request(path, body=body))
    return sock


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 30) -> bytes:
    """Read until `marker` has arrived (it may straddle two reads)."""
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the stream ended before the marker")
        data += chunk
        if marker in data[max(0, len(data) - len(chunk) - len(marker)) :]:
            return bytes(data)
        if len(data) > limit:
            raise RuntimeError("read limit exceeded")


def chunked_body(response: bytes) -> bytes:
    """The body of a whole chunked HTTP/1.1 `200` response, its chunks joined."""
    head, rest = response.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"not a 200: {head[:200]!r}")
    body = bytearray()
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(body)
        body += rest[:size]
        rest = rest[size + 2 :]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

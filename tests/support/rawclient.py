"""A raw-socket HTTP/1.1 client: for disconnects at exact moments and readers that stall."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    #: The body bytes read so far, de-chunked.
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False


class RawClient:
    """One connection; ``request`` sends, ``read_head``/``read_until`` read, ``close`` leaves."""

    def __init__(self, port: int, *, receive_buffer: int | None = None, timeout: float = 10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Set before connecting, so the TCP window stays small (a reader that stalls).
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self._raw = bytearray()
        self._chunk_left = 0
        self.response: RawResponse | None = None

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None and "Transfer-Encoding" not in (headers or {}):
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self._raw += data

    def read_head(self) -> RawResponse:
        while b"\r\n\r\n" not in self._raw:
            self._fill()
        head, _, rest = bytes(self._raw).partition(b"\r\n\r\n")
        self._raw = bytearray(rest)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.response = RawResponse(int(status_line.split()[1]), headers)
        return self.response

    def _decode(self) -> None:
        """Move whole chunk data from the raw buffer into the response body."""
        assert self.response is not None
        while not self.response.complete:
            if self._chunk_left:
                take = min(self._chunk_left, len(self._raw))
                if not take:
                    return
                self.response.body += self._raw[:take]
                del self._raw[:take]
                self._chunk_left -= take
                if self._chunk_left:
                    return
                continue
            if self._raw.startswith(b"\r\n"):
                del self._raw[:2]
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self._raw[:line_end].split(b";")[0], 16)
            if size == 0:
                if len(self._raw) < line_end + 4:
                    return
                del self._raw[: line_end + 4]
                self.response.complete = True
                return
            del self._raw[: line_end + 2]
            self._chunk_left = size

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """Read the (chunked) body until it contains ``marker``; returns the body so far."""
        assert self.response is not None, "read_head() first"
        deadline = time.monotonic() + timeout
        self._decode()
        while marker not in self.response.body:
            if self.response.complete:
                raise AssertionError(f"the body ended without {marker!r}: {self.response.body!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no {marker!r} within {timeout}s: {self.response.body[-200:]!r}"
                )
            self._fill()
            self._decode()
        return bytes(self.response.body)

    def read_to_end(self, timeout: float = 10.0) -> bytes:
        """Read until the chunked body's end (the terminating zero-size chunk)."""
        assert self.response is not None, "read_head() first"
        deadline = time.monotonic() + timeout
        self._decode()
        while not self.response.complete:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the body did not end within {timeout}s")
            self._fill()
            self._decode()
        return bytes(self.response.body)

    def read_rest(self) -> bytes:
        """Everything the server still sends until it closes (for non-chunked answers)."""
        while True:
            try:
                self._fill()
            except ConnectionError:
                return bytes(self._raw)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

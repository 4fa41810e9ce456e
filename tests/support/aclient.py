"""An asyncio raw HTTP/1.1 client, for clients that misbehave on purpose.

httpx cannot stall with a small receive window, read a few bytes at a time or
reset a connection mid-event; this can, and it records every byte it received
(status line and headers included), so tests can check what reached the wire.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from dataclasses import dataclass, field

from tests.support.parsers import Parsed, parse_httpx_sse


def chat_request(messages: list[str], *, path: str = "/chat", close: bool = True) -> bytes:
    body = json.dumps({"messages": messages}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("latin-1") + body


@dataclass
class Exchange:
    """One request's response as read so far."""

    raw: bytearray = field(default_factory=bytearray)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    #: The chunked body's terminating zero-size chunk (or the whole fixed-length body) arrived.
    complete: bool = False
    eof: bool = False

    def events(self) -> list[Parsed]:
        """The body's events, as httpx-sse (a parser we did not write) reads them."""
        return parse_httpx_sse(bytes(self.body))

    @property
    def event_count(self) -> int:
        """Whole events so far: every event ends with the only blank line it contains."""
        return self.body.count(b"\n\n")


class RawStream:
    """One connection: ``send`` a request, then read as slowly or as little as wanted."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.exchange = Exchange()
        self._buffer = bytearray()  # raw bytes after the head, not yet de-chunked
        self._chunk_left = 0
        self.closed_at: float | None = None

    @classmethod
    async def connect(cls, port: int, *, receive_buffer: int | None = None) -> RawStream:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Before connecting, so the advertised TCP window stays small.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_some(self, size: int = 65536) -> bool:
        """Read once (up to ``size`` bytes); False at end of file."""
        data = await self.reader.read(size)
        if not data:
            self.exchange.eof = True
            return False
        self.exchange.raw += data
        self._feed(data)
        return True

    def stop_reading(self) -> None:
        """Take nothing more off the socket, as a client whose app stopped reading does.

        Not calling `read_some` is not enough: the connection's `asyncio.StreamReader`
        goes on reading into its own buffer until it holds twice its limit (2 MiB
        here), however small the socket's receive buffer. A server's blocked write
        then keeps completing as this process's loop drains the socket, so its send
        timeout only starts once those 2 MiB are in. Paused, the bytes stay in the
        kernel and the TCP window stays shut.
        """
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport), transport
        transport.pause_reading()

    def _feed(self, data: bytes) -> None:
        exchange = self.exchange
        if not exchange.status:
            self._buffer += data
            head, sep, rest = bytes(self._buffer).partition(b"\r\n\r\n")
            if not sep:
                return
            status_line, *lines = head.decode("latin-1").split("\r\n")
            exchange.status = int(status_line.split()[1])
            for line in lines:
                name, _, value = line.partition(":")
                exchange.headers[name.strip().lower()] = value.strip()
            self._buffer = bytearray(rest)
        else:
            self._buffer += data
        self._decode()

    def _decode(self) -> None:
        exchange = self.exchange
        if "transfer-encoding" not in exchange.headers:
            exchange.body += self._buffer
            self._buffer.clear()
            length = exchange.headers.get("content-length")
            exchange.complete = length is not None and len(exchange.body) >= int(length)
            return
        while not exchange.complete:
            if self._chunk_left:
                take = min(self._chunk_left, len(self._buffer))
                if not take:
                    return
                exchange.body += self._buffer[:take]
                del self._buffer[:take]
                self._chunk_left -= take
                continue
            if self._buffer.startswith(b"\r\n"):
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            size = int(self._buffer[:end].split(b";")[0], 16)
            if size == 0:
                if len(self._buffer) >= end + 4:
                    exchange.complete = True
                return
            del self._buffer[: end + 2]
            self._chunk_left = size

    async def read_events(self, count: int, timeout: float) -> bool:
        """Read until ``count`` whole events (or the end); False if that took too long."""
        deadline = time.monotonic() + timeout
        while self.exchange.event_count < count and not self.exchange.complete:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                if not await asyncio.wait_for(self.read_some(), left):
                    return True
            except TimeoutError:
                return False
        return True

    async def read_to_end(self, timeout: float, *, piece: int = 65536, pause: float = 0.0) -> bool:
        """Read until the response is complete or the server closes; False past ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.exchange.complete:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                if not await asyncio.wait_for(self.read_some(piece), left):
                    return True
            except TimeoutError:
                return False
            if pause:
                await asyncio.sleep(pause)
        return True

    async def read_until_eof(self, timeout: float) -> None:
        """Everything until the server closes the connection (``Connection: close``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not await asyncio.wait_for(self.read_some(), deadline - time.monotonic()):
                    return
            except (TimeoutError, ConnectionError):
                return

    def close(self, *, reset: bool = False) -> None:
        """Leave: a FIN, or with ``reset`` an RST (``SO_LINGER`` 0), as a killed client would."""
        if self.closed_at is not None:
            return
        if reset:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.close()
        self.closed_at = time.monotonic()

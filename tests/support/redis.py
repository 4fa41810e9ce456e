"""A real redis-server (Debian's package) for the tests, on 127.0.0.1, with no persistence.

The test starts it on a free port and stops it by its PID (never by name). It
must be installed (`.ci/run` and the README's setup install `redis-server`);
when it is not, the test fails saying so: it is never skipped, and never
replaced by a fake.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.servers import free_port

INSTALL_HINT = "apt-get install -y --no-install-recommends redis-server"
_START_TIMEOUT = 10.0


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        pytest.fail(f"redis-server is not installed: {INSTALL_HINT}", pytrace=False)
    return found


@dataclass
class RedisServer:
    """One redis-server process; `stop()` then `start()` keeps its port (it comes back empty)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        log = (self.directory / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self._wait_ready()

    def stop(self) -> None:
        """Kill it (its PID only) and wait for it to be gone."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def command(self, *args: str) -> bytes:
        """One command over a raw socket (no client library), for setup and checks."""
        payload = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(arg.encode()), arg.encode()) for arg in args
        )
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(payload)
            return sock.recv(65536)

    def flush(self) -> None:
        assert self.command("FLUSHALL").startswith(b"+OK")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.directory / f"redis-{self.port}.log").read_text(errors="replace")
                pytest.fail(f"redis-server exited at start: {log[-2000:]}", pytrace=False)
            with contextlib.suppress(OSError):
                if self.command("PING").startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        pytest.fail(f"redis-server did not answer within {_START_TIMEOUT}s", pytrace=False)


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    """A running redis-server until the block ends."""
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()

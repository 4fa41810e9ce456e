"""Start :mod:`tests.support.server_app` in a subprocess, and look at it from outside."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import spawn_logged, stopped, wait_listening
from tests.support.servers import free_port

_START_TIMEOUT = 30.0


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self, *, records: bool = False, collect: bool = False) -> dict[str, Any]:
        """``GET /_stats``: the server's tasks, fds, RSS and producers' records."""
        query = f"?records={int(records)}&gc={int(collect)}"
        with urllib.request.urlopen(self.url + "/_stats" + query, timeout=10) as answer:
            result: dict[str, Any] = json.loads(answer.read())
        return result

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self) -> float:
        """``SIGTERM``; returns when it was sent (``time.monotonic()``)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        return sent


@contextlib.contextmanager
def server_process(tmp_path: Path, *arguments: str) -> Iterator[ServerProcess]:
    """Run ``server_app`` with ``arguments`` on a free port until the block ends."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    command = [sys.executable, "-m", "tests.support.server_app", "--port", str(port), *arguments]
    process = spawn_logged(command, log)
    try:
        wait_listening(process, port, log, _START_TIMEOUT)
        yield ServerProcess(process, port, log)
    finally:
        stopped(process, signal.SIGTERM, grace=15, after_kill=5)

"""Start :mod:`tests.support.server_app` in a subprocess, and look at it from outside."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import wait_for_port
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
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


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    def process_alive() -> None:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start: {log.read_text(errors='replace')}")

    if not wait_for_port(port, _START_TIMEOUT, process_alive):
        raise TimeoutError(f"the server did not listen within {_START_TIMEOUT}s")


@contextlib.contextmanager
def server_process(tmp_path: Path, *arguments: str) -> Iterator[ServerProcess]:
    """Run ``server_app`` with ``arguments`` on a free port until the block ends."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.server_app", "--port", str(port), *arguments],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield ServerProcess(process, port, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

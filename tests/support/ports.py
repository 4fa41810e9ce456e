"""The one "wait until the port answers" loop of the test suite.

Every helper that starts a server (a thread in `tests.support.servers`, a process through
`tests.support.processes.wait_listening`, which `tests.reliability.launcher` and
`tests.resume.workers` use too, nginx in `tests.support.nginx`, an example in
`tests/test_examples.py`) waits for its port the same way.
Only how a dead server is reported differs (a thread's death, a process's log, `pytest.fail`),
so each caller passes that check in and raises its own timeout error when this returns `False`.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

#: How long one connection attempt may take: a listening port on loopback answers at once.
_CONNECT_TIMEOUT = 0.2


def wait_for_port(
    port: int, timeout: float, check_alive: Callable[[], None], interval: float = 0.05
) -> bool:
    """Poll until 127.0.0.1:`port` accepts a connection; `False` if `timeout` seconds pass first.

    `check_alive` runs before each attempt and raises the caller's error once the server is
    gone, so a crash is reported at once with its log, not after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), _CONNECT_TIMEOUT),
        ):
            return True
        time.sleep(interval)
    return False

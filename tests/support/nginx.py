"""A real nginx (Debian's package) in front of a test server, on 127.0.0.1.

The test starts it on a free port with a configuration written to a temporary
directory (the `location` block of docs/deployment.md, with the settings the test
names), and stops it by its PID. nginx must be installed (`.ci/run` and the
README's setup install `nginx-light`); when it is not, the test fails saying so.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import wait_for_port
from tests.support.processes import stopped
from tests.support.servers import free_port

INSTALL_HINT = "apt-get install -y --no-install-recommends nginx-light"
_START_TIMEOUT = 10.0

_CONFIG = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_cache off;
            gzip off;
            proxy_read_timeout {read_timeout};
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail(f"nginx is not installed: {INSTALL_HINT}", pytrace=False)
    return found


@contextlib.contextmanager
def nginx_in_front(upstream: int, tmp: Path, *, read_timeout: str = "1h") -> Iterator[int]:
    """Run nginx proxying to `127.0.0.1:upstream`; yields the port it listens on."""
    port = free_port()
    config = tmp / "nginx.conf"
    config.write_text(
        _CONFIG.format(prefix=tmp, port=port, upstream=upstream, read_timeout=read_timeout)
    )
    stderr = (tmp / "stderr.log").open("wb")
    process = subprocess.Popen(
        [nginx_binary(), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        _wait_for(port, process, tmp)
        yield port
    finally:
        stopped(process, signal.SIGQUIT, grace=10, after_kill=10)
        stderr.close()


def _wait_for(port: int, process: subprocess.Popen[bytes], tmp: Path) -> None:
    def nginx_alive() -> None:
        if process.poll() is not None:
            log = "".join(
                path.read_text(errors="replace")
                for path in (tmp / "error.log", tmp / "stderr.log")
                if path.exists()
            )
            pytest.fail(f"nginx exited with {process.returncode}: {log[-2000:]}", pytrace=False)

    if not wait_for_port(port, _START_TIMEOUT, nginx_alive, interval=0.02):
        pytest.fail(f"nginx did not listen on {port} within {_START_TIMEOUT}s", pytrace=False)

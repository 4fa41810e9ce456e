"""A huge request body: what each `ssekit serve` variant answers, how soon, and its peak memory.

For each demo variant (`ssekit serve --framework asgi|starlette|litestar|quart`, one
fresh process each, `--store none`), one client sends `POST /chat` with a
`--megabytes` body of JSON, twice: with its `Content-Length` declared, and chunked
(no length: the server only learns the size by reading). The body is sent in 1 MiB
writes until the server answers or closes. Reports the status, the seconds to the
answer, how much of the body the server let in before answering, and the growth of
the server's peak RSS (`VmHWM`) over its RSS before the request. Every variant
reads the body through the one request parser (`max_body`, 64 KiB by default), so
each should answer 413 after reading at most about that much.

    uv run python benchmarks/big_body.py [--megabytes 200] [--quick: 20 MiB, asgi and quart]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from clients import HOST, free_port, wait_for_port

FRAMEWORKS = ("asgi", "starlette", "litestar", "quart")
CHUNK = b"[" + b'"x",' * (1 << 18)  # 1 MiB of a JSON array that never ends


def status_line(proc: int, key: str) -> int:
    """A `/proc/<pid>/status` figure in bytes (`VmRSS`, `VmHWM`)."""
    with open(f"/proc/{proc}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key}")


@contextlib.contextmanager
def demo(framework: str) -> Iterator[tuple[int, int]]:
    """`ssekit serve --framework` running: its port and pid."""
    port = free_port()
    command = [sys.executable, "-m", "ssekit", "serve", "--framework", framework]
    command += ["--port", str(port), "--store", "none"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, f"ssekit serve --framework {framework}")
        ask_once(port)  # the port may accept before the start-up (litellm's import) is over
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ask_once(port: int) -> None:
    """One ordinary question, read to its end."""
    body = b'{"messages": ["hello"]}'
    head = f"POST /chat HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the warm-up question got {answer[:80]!r}")


def post(port: int, megabytes: int, chunked: bool) -> tuple[int, float, int]:
    """(status, seconds to the answer, bytes the server took) for one huge POST."""
    length = f"Content-Length: {megabytes * len(CHUNK)}"
    framing = "Transfer-Encoding: chunked" if chunked else length
    head = f"POST /chat HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        started = time.monotonic()
        sock.sendall(f"{head}{framing}\r\n\r\n".encode())
        sock.setblocking(False)
        sent, answer = 0, b""
        for _ in range(megabytes):
            answer += readable(sock)
            if answer:
                break
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(piece)
            time.sleep(0.001)
        sock.settimeout(60)
        while b"\r\n" not in answer:
            answer += sock.recv(65536) or b"\r\n"
    return int(answer.split()[1]), time.monotonic() - started, sent


def readable(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""
    except ConnectionError:
        return b"HTTP/1.1 000 reset\r\n"


def measure(framework: str, megabytes: int) -> list[dict[str, Any]]:
    rows = []
    with demo(framework) as (port, pid):
        for chunked in (False, True):
            before = status_line(pid, "VmRSS")
            status, seconds, sent = post(port, megabytes, chunked)
            peak = status_line(pid, "VmHWM")
            rows.append(
                {
                    "variant": framework,
                    "framing": "chunked" if chunked else "Content-Length",
                    "status": status,
                    "seconds": seconds,
                    "sent_mib": sent / (1 << 20),
                    "peak_mib": max(0, peak - before) / (1 << 20),
                }
            )
    return rows


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--megabytes", type=int, default=200)
    cli.add_argument("--quick", action="store_true", help="smoke sizes; the numbers mean nothing")
    args = cli.parse_args()
    megabytes = 20 if args.quick else args.megabytes
    frameworks = FRAMEWORKS[::3] if args.quick else FRAMEWORKS
    rows = [row for framework in frameworks for row in measure(framework, megabytes)]
    print(f"### A {megabytes} MiB POST /chat to each `ssekit serve` variant\n")
    columns = ["variant", "framing", "status", "answered after (s)", "body sent (MiB)"]
    print("| " + " | ".join([*columns, "peak RSS growth (MiB)"]) + " |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['framing']} | {r['status']} | {r['seconds']:.2f} "
            f"| {r['sent_mib']:.1f} | {r['peak_mib']:.1f} |"
        )
    wrong = [r for r in rows if r["status"] != 413]
    if wrong:
        sys.exit(f"not answered 413: {wrong}")


if __name__ == "__main__":
    os.environ.setdefault("SSEKIT_MODEL", "ssekit/echo")
    main()

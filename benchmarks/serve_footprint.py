"""Server memory and tasks per idle stream on uvicorn: ssekit against its peers.

For each peer, a fresh server: a warm-up, then 1,000 and then 2,000 open
streams that each got one event and wait for the next. Prints the growth of
the server's RSS and of its asyncio task count, per stream.

    uv run python benchmarks/serve_footprint.py [--streams 1000 2000]
"""

from __future__ import annotations

import argparse
import resource
import socket
import time

from _common import PEERS, open_stream, read_until, server


def open_idle(port: int, peer: str, count: int) -> list[socket.socket]:
    streams = []
    for _ in range(count):
        sock = open_stream(port, f"/{peer}?n=1&hold=1")
        read_until(sock, b"data: tok0")
        streams.append(sock)
    return streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="*", default=[1000, 2000])
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("| peer | idle streams | KiB per stream | tasks per stream |")
    print("|---|---|---|---|")
    for peer in args.peers:
        with server() as running:
            for sock in open_idle(running.port, peer, 50):  # warm up, then let go
                sock.close()
            time.sleep(1.0)
            before = running.get_json("/stats")
            streams: list[socket.socket] = []
            for total in sorted(args.streams):
                streams += open_idle(running.port, peer, total - len(streams))
                time.sleep(0.5)
                now = running.get_json("/stats")
                kib = (now["rss"] - before["rss"]) / total / 1024
                tasks = (now["tasks"] - before["tasks"]) / total
                print(f"| {peer} | {total:,} | {kib:.1f} | {tasks:.2f} |", flush=True)
            for sock in streams:
                sock.close()


if __name__ == "__main__":
    main()

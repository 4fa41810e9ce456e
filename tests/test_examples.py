"""The examples run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.parsers import Parsed, parse_httpx_sse

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_quickstart_prints_the_wire_bytes_of_each_event() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    wire = b"".join(eval(line) for line in result.stdout.splitlines())  # the printed bytes reprs
    assert parse_httpx_sse(wire) == [
        Parsed("message", "HELLO, ", None),
        Parsed("message", "SERVER-SENT ", None),
        Parsed("message", "EVENTS ", None),
        Parsed("done", "", None),
        Parsed("usage", '{"usage": {"tokens": 3}}', "42"),
    ]

"""Run the npm clients of the AI SDK and AG-UI (`tests/js/*.mjs`) against a server.

Each script reads one JSON request on stdin and prints one JSON answer: what the
client itself made of the stream (the message it assembled, the events it
verified, the error it raised). The packages are the ones `tests/js/package-lock.json`
pins, installed by `tests.support.parsers.ensure_node_modules` (`.ci/run` calls it).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support.parsers import JS_DIR, ensure_node_modules, node_executable

__all__ = ["ag_ui_run", "ai_sdk"]

#: Seconds one client run may take, start-up included.
TIMEOUT = 60


def _run(script: str, request: dict[str, Any]) -> dict[str, Any]:
    ensure_node_modules()
    done = subprocess.run(
        [node_executable(), str(JS_DIR / script)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        cwd=JS_DIR,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"{script} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    answer["stderr"] = done.stderr
    return answer


def ai_sdk(mode: str, api: str, **fields: Any) -> dict[str, Any]:
    """The `ai` package's answer: `mode` `read`, `chat` or `resume` (see ai-sdk-client.mjs)."""
    return _run("ai-sdk-client.mjs", {"mode": mode, "api": api, **fields})


def ag_ui_run(url: str, **fields: Any) -> dict[str, Any]:
    """`@ag-ui/client`'s `HttpAgent` running once against `url` (see ag-ui-client.mjs)."""
    return _run("ag-ui-client.mjs", {"url": url, **fields})

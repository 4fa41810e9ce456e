"""``import ssekit`` stays light: no web framework, no litellm, no HTTP client."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "starlette",
    "fastapi",
    "litestar",
    "quart",
    "django",
    "sse_starlette",
    "litellm",
    "httpx",
    "uvicorn",
    "hypercorn",
    "pydantic",
    "openai",
    "trio",
]


def test_import_ssekit_loads_no_framework_and_no_litellm() -> None:
    code = (
        "import json, sys, ssekit\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    assert "ssekit" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_public_api_is_reexported() -> None:
    import ssekit

    for name in ssekit.__all__:
        assert getattr(ssekit, name) is not None
    assert {"ServerSentEvent", "encode", "encode_comment", "encode_many", "sse_stream"} <= set(
        ssekit.__all__
    )

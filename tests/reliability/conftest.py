"""The reliability suite's figures, printed at the end of the run (and saved on request).

Each test adds what it measured to :data:`FIGURES`; the terminal summary prints
it, and ``SSEKIT_RELIABILITY_REPORT=path.json`` saves it, which is where the
numbers in docs/reliability.md come from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

FIGURES: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: the chaos soak (about 2 minutes; SSEKIT_SOAK_SECONDS runs it longer)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("ssekit reliability figures")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures, sort_keys=True)}")
    path = os.environ.get("SSEKIT_RELIABILITY_REPORT")
    if path:
        Path(path).write_text(json.dumps(FIGURES, indent=2, sort_keys=True))

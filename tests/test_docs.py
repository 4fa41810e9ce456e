"""Every Python sample in the docs and the README runs, so no sample can drift from the API.

Samples are executed as they are written (top-level ``await`` allowed), each
in a fresh namespace. A sample that is not meant to run on its own belongs in
``examples/`` (whose files are tested) and is included from there.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PYTHON_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
_INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$')


def _samples() -> list[pytest.ParameterSet]:
    samples = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _PYTHON_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            name = f"{page.relative_to(ROOT)}:{line}"
            samples.append(pytest.param(name, match.group(1), id=name))
    return samples


SAMPLES = _samples()


def test_the_docs_have_python_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize(("name", "source"), SAMPLES)
def test_sample_runs(name: str, source: str) -> None:
    include = _INCLUDE.match(source.strip())
    if include:
        # An included file: it must be an example, and examples are started by test_examples.
        path = ROOT / include.group(1)
        assert path.is_file(), f"{name} includes a missing file {path}"
        assert path.parent == ROOT / "examples", f"{name} includes {path}, not an example"
        return
    code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    # A real module, so that what needs one (dataclasses, pydantic, litestar) finds it.
    module = types.ModuleType("docs_sample")
    sys.modules[module.__name__] = module
    try:
        result = eval(code, module.__dict__)  # exec, but returns a top-level await's coroutine
        if inspect.iscoroutine(result):
            asyncio.run(result)
    finally:
        del sys.modules[module.__name__]

"""The API reference renders as a reader expects: built by MkDocs, read as HTML.

The site is built once into a temporary directory with ``--strict`` (any warning,
an unresolved cross-reference included, fails the build). Docstrings are
Markdown: a Sphinx role (``:class:`X```), an rST escape (``\\ s``) or an rST
literal-block marker (``::``) would reach the page as raw text, so none may be
left, in the built pages or in the sources they come from.
"""

from __future__ import annotations

import html
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ssekit

ROOT = Path(__file__).parent.parent
BUILD_TIMEOUT = 300
REFERENCE_PAGE = "streaming-api/index.html"
ADAPTERS = ("ssekit_starlette", "ssekit_litestar", "ssekit_quart")

_ROLE = r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|ref):"
#: Sphinx/rST markup as it shows up in built HTML: a role before its ``<code>``,
#: an escaped space after a literal, a paragraph ending in a literal-block ``::``.
SPHINX_IN_HTML = re.compile(rf"{_ROLE}(?=<code>)|</code>\\ |::</p>")
#: The same markup in Python sources.
SPHINX_IN_SOURCE = re.compile(rf"{_ROLE}`|``\\{{1,2}} |\S::$", re.M)


def build_site(config_dir: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=config_dir,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = build_site(ROOT, site_dir)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return site_dir


@pytest.fixture(scope="module")
def reference(site: Path) -> str:
    return (site / REFERENCE_PAGE).read_text("utf-8")


def _context(text: str, match: re.Match[str]) -> str:
    return text[max(0, match.start() - 80) : match.end() + 40].replace("\n", " ")


def test_no_sphinx_markup_reaches_the_site(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    found = [
        f"{page.relative_to(site)}: ...{_context(text, match)}..."
        for page in pages
        for text in [page.read_text("utf-8")]
        for match in SPHINX_IN_HTML.finditer(text)
    ]
    assert not found, "Sphinx/rST markup rendered as text:\n" + "\n".join(found)


def test_docstrings_are_markdown_not_sphinx() -> None:
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "adapters").glob("*/src/**/*.py")]
    assert len(sources) > 10
    found = [
        f"{source.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for source in sources
        for text in [source.read_text("utf-8")]
        for match in SPHINX_IN_SOURCE.finditer(text)
    ]
    assert not found, "Sphinx markup in docstrings (use Markdown):\n" + "\n".join(found)


def _public_names() -> list[str]:
    names = [f"ssekit.{name}" for name in ssekit.__all__]
    for adapter in ADAPTERS:
        module = importlib.import_module(adapter)
        names += [adapter, *(f"{adapter}.{name}" for name in module.__all__)]
    return names


def test_every_public_name_is_in_the_reference(reference: str) -> None:
    missing = [name for name in _public_names() if f'id="{name}"' not in reference]
    assert not missing, f"public names without an entry in docs/streaming-api.md: {missing}"


def _signature_text(reference: str, name: str) -> str:
    """The signature rendered under ``name``'s heading (before the next one), as plain text."""
    heading = reference.index(f'id="{name}"')
    next_heading = reference.find('class="doc doc-heading"', reference.index("</h", heading))
    start = reference.find('<div class="doc-signature', heading, next_heading)
    assert start != -1, f"{name} has no signature"
    end = reference.index("</pre>", start)
    return html.unescape(re.sub(r"<[^>]+>", "", reference[start:end]))


def _classes_with_a_constructor() -> dict[str, type]:
    classes: dict[str, type] = {}
    for name in _public_names():
        module_name, _, attribute = name.rpartition(".")
        if not module_name:
            continue
        value = getattr(importlib.import_module(module_name), attribute)
        # Our own constructors (a Protocol's __init__ is typing's placeholder).
        init = vars(value).get("__init__") if inspect.isclass(value) else None
        if init is not None and init.__module__.startswith(module_name.split(".")[0]):
            classes[name] = value
    return classes


def test_class_signatures_show_every_constructor_parameter(reference: str) -> None:
    classes = _classes_with_a_constructor()
    assert {"ssekit.EventStreamResponse", "ssekit.ChatApp"} <= classes.keys()
    for name, cls in classes.items():
        shown = _signature_text(reference, name)
        assert shown.startswith(f"{cls.__name__}("), f"{name}: {shown[:80]!r}"
        for parameter in inspect.signature(cls).parameters:
            assert re.search(rf"\b{parameter}\b\s*[:=,)]", shown), f"{name}: {parameter} not shown"


def test_an_unresolved_cross_reference_fails_the_build(tmp_path: Path) -> None:
    """A copy of the docs whose reference page links to a name that does not exist."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    for needed in ("src", "adapters", "examples"):
        (tmp_path / needed).symlink_to(ROOT / needed)
    page = tmp_path / "docs" / "streaming-api.md"
    page.write_text(page.read_text("utf-8") + "\nSee [`Nothing`][ssekit.NoSuchName].\n", "utf-8")
    result = build_site(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "Could not find cross-reference target 'ssekit.NoSuchName'" in result.stderr

"""The packages as users receive them: built, installed with pip, run from a fresh venv.

The README's Install section is what is run: its ``uv build`` line builds every
wheel and sdist into a temporary ``dist``, and its ``ssekit[serve]`` and
``ssekit-starlette`` lines install them with plain pip into one fresh venv of
the system Python (pip fetches the dependencies, litellm included, from the
package index: this takes a minute or two). From that venv, nothing from the
checkout: ``ssekit serve`` answers the page and a ``/chat`` stream, and a small
Starlette app on ``ssekit_starlette`` streams exact bytes through uvicorn.
The archives themselves carry the LICENSE, and the core sdist only what
building the package needs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.chat_http import ask

# Building takes seconds; installing litellm and its dependencies with pip, minutes.
pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).parent.parent
LICENSE = (ROOT / "LICENSE").read_bytes()
DISTRIBUTIONS = ("ssekit", "ssekit_starlette", "ssekit_litestar", "ssekit_quart", "ssekit_django")
#: What the tests install (the demo and one adapter), as the README's lines name them.
INSTALLED = ("ssekit[serve]", "ssekit-starlette")
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 900
START_TIMEOUT = 120
HTTP_TIMEOUT = 30

STARLETTE_APP = """\
from starlette.applications import Starlette
from starlette.routing import Route

from ssekit import ServerSentEvent
from ssekit_starlette import sse_response


async def tokens():
    yield ServerSentEvent("Hel", event="token", id="1")
    yield {"event": "done", "data": "two\\nlines"}


async def stream(request):
    return sse_response(tokens(), ping=None)


app = Starlette(routes=[Route("/stream", stream)])
"""


def readme_install_commands() -> list[list[str]]:
    """The commands of the README's Install section, one argument list per line."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's Install section has no sh block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines()]


def _run(command: list[str], timeout: float, cwd: Path | None = None) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stderr[-4000:]}"


def _clean_env() -> dict[str, str]:
    """This process's environment, without what points at the checkout's own venv."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "SSEKIT_MODEL"}
    return {name: value for name, value in os.environ.items() if name not in drop}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's build line, run with its ``dist`` in a temporary directory."""
    build_line = readme_install_commands()[0]
    build = build_line[build_line.index("&&") + 1 :]
    assert build == ["uv", "build", "--all-packages", "--out-dir", "dist"]
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is not on PATH: python3 -m pip install uv"
    out = tmp_path_factory.mktemp("dist")
    _run([uv, *build[1:-1], str(out)], BUILD_TIMEOUT, cwd=ROOT)
    return out


def _archives(dist: Path) -> dict[str, tuple[Path, Path]]:
    """Each distribution's (wheel, sdist), checking that exactly one of each was built."""
    found = {}
    for name in DISTRIBUTIONS:
        wheels = list(dist.glob(f"{name}-*.whl"))
        sdists = list(dist.glob(f"{name}-*.tar.gz"))
        assert len(wheels) == 1 and len(sdists) == 1, (name, sorted(dist.iterdir()))
        found[name] = (wheels[0], sdists[0])
    return found


def _dist_info(wheel: Path, file: str) -> bytes:
    name, version = wheel.name.split("-")[:2]
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(f"{name}-{version}.dist-info/{file}")


def _metadata(wheel: Path) -> list[str]:
    return _dist_info(wheel, "METADATA").decode().splitlines()


def test_every_wheel_and_sdist_carries_the_license(dist: Path) -> None:
    for name, (wheel, sdist) in _archives(dist).items():
        version = wheel.name.split("-")[1]
        assert _dist_info(wheel, "licenses/LICENSE") == LICENSE
        assert "License-Expression: MIT" in _metadata(wheel)
        assert "License-File: LICENSE" in _metadata(wheel)
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"{name}-{version}/LICENSE")
            assert member is not None and member.read() == LICENSE


def test_the_core_sdist_holds_only_what_builds_the_package(dist: Path) -> None:
    _, sdist = _archives(dist)["ssekit"]
    with tarfile.open(sdist) as archive:
        names = [member.name.split("/", 1)[1] for member in archive.getmembers()]
    # .gitignore: hatchling adds it so a wheel built from the sdist leaves out the same files.
    top_level = {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", ".gitignore"}
    strays = [
        name for name in names if name not in top_level and not name.startswith("src/ssekit/")
    ]
    assert not strays, f"the sdist holds more than the package: {strays}"
    assert "src/ssekit/__init__.py" in names and "src/ssekit/static/sse-client.js" in names
    assert not [name for name in names if name.endswith((".png", ".lock", ".pyc"))]


def test_the_adapters_require_a_compatible_core(dist: Path) -> None:
    for name in DISTRIBUTIONS[1:]:
        wheel, _ = _archives(dist)[name]
        requirements = [line for line in _metadata(wheel) if line.startswith("Requires-Dist")]
        assert "Requires-Dist: ssekit<0.2,>=0.1" in requirements, requirements


def test_every_readme_install_line_names_a_built_distribution(dist: Path) -> None:
    built = {wheel.name.split("-")[0].replace("_", "-") for wheel in dist.glob("*.whl")}
    core, _ = _archives(dist)["ssekit"]
    extras = {
        line.split(": ", 1)[1] for line in _metadata(core) if line.startswith("Provides-Extra")
    }
    lines = readme_install_commands()[1:]
    assert len(lines) >= len(DISTRIBUTIONS)
    for line in lines:
        assert line[:4] == ["pip", "install", "--find-links", "dist"], line
        project, _, extra = line[4].partition("[")
        assert project in built, line
        assert extra.rstrip("]") in extras | {""}, line


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of the system Python, with the README's lines for INSTALLED run in it."""
    directory = tmp_path_factory.mktemp("venv")
    system_python = Path(sys.base_prefix) / "bin" / "python3"
    _run([str(system_python), "-m", "venv", str(directory)], START_TIMEOUT)
    python = directory / "bin" / "python"
    lines = {line[-1]: line for line in readme_install_commands()[1:]}
    for requirement in INSTALLED:
        pip = lines[requirement]
        assert pip[0] == "pip"
        command = [str(python), "-m", *pip[:3], str(dist), *pip[4:]]
        _run(command, INSTALL_TIMEOUT, cwd=directory)
    return directory


@dataclass
class Started:
    """A process started by a test, its output (stdout and stderr) going to one file."""

    process: subprocess.Popen[bytes]
    log: Path

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log.read_text("utf-8", errors="replace"))
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"exited ({self.process.returncode}): {self.log.read_text('utf-8')}")
            time.sleep(0.1)
        pytest.fail(f"no {pattern!r} within {START_TIMEOUT}s: {self.log.read_text('utf-8')}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    """Start a command in ``tmp_path``; every process started here is stopped at the end."""
    started: list[Started] = []

    def launch(*command: str, **env: str) -> Started:
        log = tmp_path / f"log-{len(started)}.txt"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**_clean_env(), **env},
            )
        started.append(Started(process, log))
        return started[-1]

    yield launch
    for each in started:
        each.stop()


def test_the_venv_imports_the_installed_wheels(venv: Path, tmp_path: Path) -> None:
    code = "import ssekit, ssekit_starlette; print(ssekit.__file__, ssekit_starlette.__file__)"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for path in result.stdout.split():
        assert Path(path).is_relative_to(venv / "lib"), path


def test_ssekit_serve_from_the_venv(venv: Path, start: Callable[..., Started]) -> None:
    # --port 0: the server binds a free port itself and prints it, so no other process
    # can take the port between choosing it and binding it.
    served = start(str(venv / "bin" / "ssekit"), "serve", "--port", "0", SSEKIT_ECHO_DELAY="0")
    url = served.wait_for(r"ssekit demo on (http://127\.0\.0\.1:\d+) ").group(1)
    page = httpx.get(f"{url}/", timeout=HTTP_TIMEOUT)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "model <code>ssekit/echo</code>" in page.text
    client = httpx.get(f"{url}/static/sse-client.js", timeout=HTTP_TIMEOUT)
    assert client.status_code == 200
    assert client.content == (ROOT / "src" / "ssekit" / "static" / "sse-client.js").read_bytes()
    answer = ask(url, ["hello from a wheel"], timeout=HTTP_TIMEOUT)
    assert answer.status == 200
    assert answer.content_type == "text/event-stream; charset=utf-8"
    assert answer.text.startswith('You said: "hello from a wheel".')
    assert answer.events[0].event == "stream"  # resumable by default (--store memory)
    assert answer.final.event == "done" and str(answer.final.id).endswith(f":{len(answer.events)}")


def test_a_starlette_app_on_the_adapter_wheel(
    venv: Path, start: Callable[..., Started], tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(STARLETTE_APP, "utf-8")
    uvicorn = str(venv / "bin" / "uvicorn")
    served = start(uvicorn, "app:app", "--host", "127.0.0.1", "--port", "0")
    url = served.wait_for(r"Uvicorn running on (http://127\.0\.0\.1:\d+)").group(1)
    response = httpx.get(f"{url}/stream", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == (
        b"event: token\nid: 1\ndata: Hel\n\nevent: done\ndata: two\ndata: lines\n\n"
    )

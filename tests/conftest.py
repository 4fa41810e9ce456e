from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssekit._bot import load_litellm
from tests.support.parsers import NodeParser


@pytest.fixture(scope="session")
def node_parser() -> Iterator[NodeParser]:
    parser = NodeParser()
    yield parser
    parser.close()


@pytest.fixture(scope="module")
def fast_echo() -> Iterator[None]:
    """litellm imported once for a module, and the echo model at full speed (the docs' samples
    and the examples serve the offline bot; a per-token delay only slows them down)."""
    load_litellm()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSEKIT_ECHO_DELAY", "0")
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test means a missing tool or service: fail the run instead of hiding it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; skips are not allowed")

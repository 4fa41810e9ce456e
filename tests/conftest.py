from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.parsers import NodeParser


@pytest.fixture(scope="session")
def node_parser() -> Iterator[NodeParser]:
    parser = NodeParser()
    yield parser
    parser.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test means a missing tool or service: fail the run instead of hiding it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; skips are not allowed")

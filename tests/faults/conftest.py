"""The fault suite's local cloud (one per module: set-up is shared, cases run one after the
other) and the matrix it prints at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pitwall.localcloud.faults import CaseResult, FaultSuite, fault_suite, format_matrix

_results: list[CaseResult] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture(scope="module")
def suite() -> Iterator[FaultSuite]:
    with fault_suite() as running:
        running.results = _results  # what the terminal summary prints
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _results:
        terminalreporter.section("fault matrix (issue 4)")
        terminalreporter.write_line(format_matrix(_results))

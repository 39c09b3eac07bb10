"""The fault suite's local cloud (one per module: set-up is shared, cases run one after the
other) and the matrix it prints at the end of the session.

Each case's result travels in its test report (`user_properties`), where the summary reads it.
The cases run one after the other on their cloud: two at once in one process lag the accelerated
clock (a wall second is two cloud minutes) and the matrix measures the machine instead."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pitwall_local.faults import CaseResult, FaultSuite, fault_suite, format_matrix

CASE_PROPERTY = "fault_case"
_results: list[CaseResult] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture(scope="module")
def suite() -> Iterator[FaultSuite]:
    with fault_suite() as running:
        yield running


@pytest.fixture
def record_case(request: pytest.FixtureRequest) -> Callable[[CaseResult], None]:
    """Put a case's result into its test report, for the matrix."""

    def record(result: CaseResult) -> None:
        request.node.user_properties.append((CASE_PROPERTY, result.to_json()))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _results.extend(
            CaseResult.from_json(value) for name, value in report.user_properties if name == CASE_PROPERTY
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _results:
        terminalreporter.section("fault matrix")
        terminalreporter.write_line(format_matrix(_results))

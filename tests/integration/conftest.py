"""Integration fixtures: one local cloud per test module (template.yaml deployed into moto, the
real state machines, in-process Lambdas, simulated hosts), with faults reset between tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files

TIME_SCALE = 240.0  # a simulated hour takes 15 s
TRACK = "reInvent2019_track"


def pytest_configure(config: pytest.Config) -> None:
    # handlers without a metric of their own: powertools warns on each invocation
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture(scope="module")
def module_cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=TIME_SCALE) as local:
        yield local


@pytest.fixture
def cloud(module_cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The module's local cloud, its injected faults cleared after each test."""
    yield module_cloud
    module_cloud.launch_faults.fail_next = 0
    module_cloud.launch_faults.unavailable.clear()
    module_cloud.runner.host_faults = lambda run_id, segment: None


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers


class Helpers:
    """Small helpers the integration tests share (as a fixture: tests/ is not a package)."""

    TRACK = TRACK

    @staticmethod
    def new_run_id(prefix: str = "run") -> str:
        return new_run_id(prefix)

    @staticmethod
    def train_input(
        cloud: LocalCloud, run_id: str, files: dict[str, bytes] | None = None, **request: Any
    ) -> dict[str, Any]:
        return train_input(cloud, run_id, files, **request)

    @staticmethod
    def instances_of_run(cloud: LocalCloud, run_id: str) -> list[str]:
        return instances_of_run(cloud, run_id)

    @staticmethod
    def execution_input(cloud: LocalCloud, execution_arn: str) -> dict[str, Any]:
        return execution_input(cloud, execution_arn)


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def train_input(
    cloud: LocalCloud, run_id: str, files: dict[str, bytes] | None = None, **request: Any
) -> dict[str, Any]:
    """Upload custom files and return the Train machine's input for them."""
    folder = f"uploads/{run_id}"
    cloud.upload_custom_files(folder, files or example_files())
    # one simulator per host unless a test asks (the recovery tests were timed so; the workers
    # chosen with the size are tested in test_train.py)
    defaults = {"model_name": run_id, "track": TRACK, "time_budget_minutes": 30, "workers": 1}
    return {"run_id": run_id, "request": {**defaults, **request}, "custom_files_prefix": folder}


def instances_of_run(cloud: LocalCloud, run_id: str) -> list[str]:
    return [h.instance_id for h in cloud.runner.hosts.values() if h.run_id == run_id]


def execution_input(cloud: LocalCloud, execution_arn: str) -> dict[str, Any]:
    return json.loads(cloud.describe(execution_arn)["input"])

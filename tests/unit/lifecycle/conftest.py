"""The lifecycle steps' dependencies: in memory (`fake_deps`, the fakes in fakes.py) for the
lifecycle's own logic, or on moto (`deps`: the runs table, the model bucket, versioned as
template.yaml makes it, the topic, the schedule group) where a test checks what AWS does."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from fakes import fake_deps_of
from moto import mock_aws

from pitwall import aws
from pitwall.clock import ManualClock
from pitwall.lifecycle.deps import Deps
from pitwall.settings import Settings

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:pitwall"


@pytest.fixture
def start_epoch() -> float:
    """The manual clock's first reading (a test module that counts from it overrides this)."""
    return 1_800_000_000.0


@pytest.fixture
def fake_deps(start_epoch: float, stack_settings: dict[str, str]) -> Deps:
    settings = Settings.model_validate({**stack_settings, "PITWALL_TOPIC_ARN": TOPIC_ARN})
    return fake_deps_of(settings, ManualClock(start_epoch))


@pytest.fixture
def deps(moto_deps: Deps) -> Deps:
    """On moto, unless a test module chooses `fake_deps` under this name."""
    return moto_deps


@pytest.fixture
def moto_deps(
    start_epoch: float, stack_settings: dict[str, str], runs_table_of: Callable[[str], None]
) -> Iterator[Deps]:
    with mock_aws():
        aws.reset_clients()
        runs_table_of("runs")
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="models-bucket")
        s3.put_bucket_versioning(Bucket="models-bucket", VersioningConfiguration={"Status": "Enabled"})
        topic = aws.client("sns").create_topic(Name="pitwall")["TopicArn"]
        aws.client("scheduler").create_schedule_group(Name="pitwall-evaluations")
        settings = Settings.model_validate({**stack_settings, "PITWALL_TOPIC_ARN": topic})
        yield dataclasses.replace(Deps.from_settings(settings), clock=ManualClock(start_epoch))
    aws.reset_clients()

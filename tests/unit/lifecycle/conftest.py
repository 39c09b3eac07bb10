"""The lifecycle steps' dependencies on moto: the runs table, the model bucket (versioned, as
template.yaml makes it), the topic, a manual clock and the settings a handler would read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from pitwall import aws
from pitwall.adapters.ec2 import Ec2
from pitwall.adapters.iam import SegmentRoles
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.clock import ManualClock
from pitwall.lifecycle.deps import Deps
from pitwall.settings import Settings


@pytest.fixture
def start_epoch() -> float:
    """The manual clock's first reading (a test module that counts from it overrides this)."""
    return 1_800_000_000.0


@pytest.fixture
def deps(start_epoch: float, stack_settings: dict[str, str]) -> Iterator[Deps]:
    with mock_aws():
        aws.reset_clients()
        aws.client("dynamodb").create_table(
            TableName="runs",
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="models-bucket")
        s3.put_bucket_versioning(Bucket="models-bucket", VersioningConfiguration={"Status": "Enabled"})
        topic = aws.client("sns").create_topic(Name="pitwall")["TopicArn"]
        aws.client("scheduler").create_schedule_group(Name="pitwall-evaluations")
        settings = Settings.model_validate({**stack_settings, "PITWALL_TOPIC_ARN": topic})
        yield Deps(
            settings=settings,
            store=ObjectStore("models-bucket"),
            runs=RunsTable("runs"),
            ec2=Ec2("us-east-1"),
            clock=ManualClock(start_epoch),
            roles=SegmentRoles(settings.host_permissions_boundary_arn),
        )
    aws.reset_clients()

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
def deps(start_epoch: float) -> Iterator[Deps]:
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
        settings = Settings.model_validate(
            {
                "AWS_REGION": "us-east-1",
                "PITWALL_MODEL_BUCKET": "models-bucket",
                "PITWALL_RUNS_TABLE": "runs",
                "PITWALL_TOPIC_ARN": topic,
                "PITWALL_EVENT_BUS": "bus",
                "PITWALL_INSTANCE_TYPES": "g4dn.2xlarge",
                "PITWALL_SUBNET_IDS": "subnet-1",
                "PITWALL_SECURITY_GROUP_ID": "sg-1",
                "PITWALL_IMAGE_ID": "ami-12345678",
                "PITWALL_HOST_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/pitwall/boundary",
                "PITWALL_DEFAULT_TIME_BUDGET_MINUTES": "120",
                "PITWALL_HEARTBEAT_WINDOW_SECONDS": "600",
                "PITWALL_BOOT_TIMEOUT_SECONDS": "900",
                "PITWALL_HOST_POLL_SECONDS": "5",
                "PITWALL_MAX_RELAUNCHES_PER_HOUR": "4",
                "PITWALL_WORKER_SCALING_EXPONENT": "0.65",
                "PITWALL_HOST_IMAGE_PARAMETER": "/pitwall/test/host-image-id",
                "PITWALL_CLOCK_SCALE": "1",
                "PITWALL_CLOCK_ANCHOR_EPOCH": "0",
                "PITWALL_SCHEDULE_GROUP": "pitwall-evaluations",
                "PITWALL_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/pitwall-scheduler",
                "PITWALL_SCHEDULED_EVALUATION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:p-Sched",
                "PITWALL_EVALUATE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:e",
            }
        )
        yield Deps(
            settings=settings,
            store=ObjectStore("models-bucket"),
            runs=RunsTable("runs"),
            ec2=Ec2("us-east-1"),
            clock=ManualClock(start_epoch),
            roles=SegmentRoles(settings.host_permissions_boundary_arn),
        )
    aws.reset_clients()

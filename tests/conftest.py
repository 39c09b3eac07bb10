"""Root fixtures: fake AWS credentials and region for every test, a Lambda context, and a
fresh set of boto3 clients per test so moto always sees new clients."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pitwall import aws

REPO_ROOT = Path(__file__).resolve().parent.parent

# A stack's Lambda settings (`pitwall.settings.Settings`, by their environment names) for tests
# that build Settings by hand: one place, so a new setting is added once.
STACK_SETTINGS = {
    "AWS_REGION": "us-east-1",
    "PITWALL_MODEL_BUCKET": "models-bucket",
    "PITWALL_RUNS_TABLE": "runs",
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
    "PITWALL_MOVE_CHECK_MINUTES": "15",
    "PITWALL_HOST_IMAGE_PARAMETER": "/pitwall/test/host-image-id",
    "PITWALL_CLOCK_SCALE": "1",
    "PITWALL_CLOCK_ANCHOR_EPOCH": "0",
    "PITWALL_SCHEDULE_GROUP": "pitwall-evaluations",
    "PITWALL_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/pitwall-scheduler",
    "PITWALL_SCHEDULED_EVALUATION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:p-Sched",
    "PITWALL_EVALUATE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:e",
}


@pytest.fixture
def stack_settings() -> dict[str, str]:
    """A copy of STACK_SETTINGS for a test to complete (the topic ARN) and change."""
    return dict(STACK_SETTINGS)


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Pitwall",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    yield
    aws.reset_clients()


@dataclass
class FakeLambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def pixel_spread() -> Callable[[bytes], float]:
    """The standard deviation of a PNG's pixel values: 0 for a blank (one-colour) screenshot."""

    def spread(png: bytes) -> float:
        from matplotlib import image

        return float(image.imread(io.BytesIO(png), format="png").std())

    return spread


@pytest.fixture(autouse=True)
def reset_metrics():
    from pitwall.observability import metrics

    yield
    metrics.clear_metrics()


def ec2_event(detail_type: str, detail: dict[str, object]) -> dict[str, object]:
    """An EC2 event as EventBridge delivers it to a rule's target: the whole envelope."""
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": detail_type,
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-11-22T04:02:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:ec2:us-east-1:123456789012:instance/{detail.get('instance-id')}"],
        "detail": detail,
    }


@pytest.fixture
def ec2_event_of():
    return ec2_event


def create_runs_table(name: str = "runs") -> None:
    """The stack's runs table in moto: its keys and index as template.yaml declares them."""
    from pitwall_local.template import load_template  # the local extra, where tests need moto

    table = load_template(REPO_ROOT / "template.yaml")["Resources"]["RunsTable"]["Properties"]
    declared = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    aws.client("dynamodb").create_table(TableName=name, **{key: table[key] for key in declared})


@pytest.fixture
def runs_table_of() -> Callable[[str], None]:
    return create_runs_table


@pytest.fixture(scope="session")
def simulator_tracks_folder() -> Path:
    """The simulator's 127 tracks, as the package ships them (with their INDEX.csv)."""
    from pitwall.tracks import SIMULATOR_TRACKS_FOLDER

    return SIMULATOR_TRACKS_FOLDER

"""Root fixtures: fake AWS credentials and region for every test, a Lambda context, and a
fresh set of boto3 clients per test so moto always sees new clients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pitwall import aws

REPO_ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(autouse=True)
def reset_metrics():
    from pitwall.observability import metrics

    yield
    metrics.clear_metrics()


@pytest.fixture(scope="session")
def simulator_tracks_folder() -> Path:
    """The simulator's 127 tracks, as the package ships them (with their INDEX.csv)."""
    from pitwall.tracks import SIMULATOR_TRACKS_FOLDER

    return SIMULATOR_TRACKS_FOLDER

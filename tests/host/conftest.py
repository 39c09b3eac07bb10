"""Fixtures of the host tests: an emulated S3 bucket (moto) holding a run's spec and custom
files, and a clock on which things can be scheduled."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pitwall.clock import ManualClock
from pitwall.host.protocol import EvaluationLeg, Mode, RunSpec
from pitwall.layout import (
    HYPERPARAMETERS_FILE,
    MODEL_METADATA_FILE,
    REWARD_FUNCTION_FILE,
    RunKeys,
    segment_model_prefix,
)

BUCKET = "pitwall-host-test"
REGION = "us-east-1"
START = 1_790_000_000.0

REWARD_FUNCTION = b"def reward_function(params):\n    return float(params['progress'])\n"
MODEL_METADATA = {
    "action_space_type": "discrete",
    "action_space": [{"steering_angle": -15, "speed": 1.0}, {"steering_angle": 15, "speed": 1.0}],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "version": "5",
}


class ScheduledClock(ManualClock):
    """A ManualClock that runs scheduled actions when time reaches them: lets a single-threaded
    test make things happen "during" the agent's run (a control request, a crash)."""

    def __init__(self, start_epoch: float = START) -> None:
        super().__init__(start_epoch)
        self._actions: list[tuple[float, Callable[[], None]]] = []

    def at(self, epoch: float, action: Callable[[], None]) -> None:
        self._actions.append((epoch, action))
        self._actions.sort(key=lambda item: item[0])

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        while self._actions and self._actions[0][0] <= self.now():
            _, action = self._actions.pop(0)
            action()


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def clock() -> ScheduledClock:
    return ScheduledClock()


def hyperparameters(**overrides: Any) -> dict[str, Any]:
    return {"batch_size": 64, "num_epochs": 10, "num_episodes_between_training": 10, **overrides}


def put_custom_files(s3: Any, run_id: str, hyper: dict[str, Any] | None = None) -> None:
    keys = RunKeys(run_id)
    s3.put_object(Bucket=BUCKET, Key=keys.custom_file(REWARD_FUNCTION_FILE), Body=REWARD_FUNCTION)
    s3.put_object(Bucket=BUCKET, Key=keys.custom_file(MODEL_METADATA_FILE), Body=json.dumps(MODEL_METADATA))
    body = json.dumps(hyper if hyper is not None else hyperparameters())
    s3.put_object(Bucket=BUCKET, Key=keys.custom_file(HYPERPARAMETERS_FILE), Body=body)


def make_spec(
    run_id: str = "run-1",
    *,
    segment: int = 0,
    mode: Mode = Mode.TRAIN,
    model_prefix: str | None = None,
    run_settings: dict[str, str] | None = None,
    system_settings: dict[str, str] | None = None,
    deadline_after: float = 3 * 3600,
    pretrained_prefix: str | None = None,
    evaluation_legs: list[EvaluationLeg] | None = None,
) -> RunSpec:
    return RunSpec(
        run_id=run_id,
        segment=segment,
        mode=mode,
        bucket=BUCKET,
        region=REGION,
        model_prefix=model_prefix or segment_model_prefix("demo-model", segment),
        run_settings={
            "DR_WORLD_NAME": "reInvent2019_track",
            "DR_TRAIN_MIN_EVAL_TRIALS": "3",
            **(run_settings or {}),
        },
        system_settings={"DR_WORKERS": "1", "DR_SIMAPP_VERSION": "5.3.3-gpu", **(system_settings or {})},
        deadline_epoch=START + deadline_after,
        pretrained_prefix=pretrained_prefix,
        evaluation_legs=evaluation_legs or [],
    )


def put_spec(s3: Any, spec: RunSpec) -> None:
    s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).run_spec, Body=spec.to_json())


def put_run(s3: Any, spec: RunSpec, hyper: dict[str, Any] | None = None) -> None:
    put_custom_files(s3, spec.run_id, hyper)
    put_spec(s3, spec)


def read_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


class StatusRecorder:
    """Every host status the agent writes, in order (S3 keeps only the last)."""

    def __init__(self, s3: Any) -> None:
        self.statuses: list[dict[str, Any]] = []
        original = s3.put_object

        def put_object(**kwargs: Any) -> Any:
            if kwargs["Key"].endswith("/host/status.json"):
                self.statuses.append(json.loads(kwargs["Body"]))
            return original(**kwargs)

        s3.put_object = put_object

    @property
    def states(self) -> list[str]:
        return [status["state"] for status in self.statuses]

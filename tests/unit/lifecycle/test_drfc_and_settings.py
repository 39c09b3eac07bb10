"""The DRFC settings the controller writes, and the Lambda settings model."""

from __future__ import annotations

import pytest

from pitwall.lifecycle import drfc
from pitwall.runs import EvaluationRequest, PretrainedSource, RunRequest, TrackLeg
from pitwall.settings import Settings

ENVIRON = {
    "AWS_REGION": "us-east-1",
    "PITWALL_MODEL_BUCKET": "pitwall-models-123456789012-us-east-1",
    "PITWALL_RUNS_TABLE": "runs",
    "PITWALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pitwall",
    "PITWALL_EVENT_BUS": "pitwall-lifecycle",
    "PITWALL_INSTANCE_TYPES": "g4dn.2xlarge, g5.2xlarge",
    "PITWALL_SUBNET_IDS": "subnet-1,subnet-2",
    "PITWALL_SECURITY_GROUP_ID": "sg-1",
    "PITWALL_IMAGE_ID": "ami-12345678",
    "PITWALL_HOST_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/pitwall-host-boundary",
    "PITWALL_MAX_RELAUNCHES_PER_HOUR": "4",
    "PITWALL_WORKER_SCALING_EXPONENT": "0.65",
    "PITWALL_MOVE_CHECK_MINUTES": "15",
    "PITWALL_HOST_IMAGE_PARAMETER": "/pitwall/test/host-image-id",
    "PITWALL_DEFAULT_TIME_BUDGET_MINUTES": "120",
    "PITWALL_HEARTBEAT_WINDOW_SECONDS": "600",
    "PITWALL_BOOT_TIMEOUT_SECONDS": "900",
    "PITWALL_HOST_POLL_SECONDS": "5",
    "PITWALL_CLOCK_SCALE": "1",
    "PITWALL_CLOCK_ANCHOR_EPOCH": "0",
    "PITWALL_SCHEDULE_GROUP": "pitwall-evaluations",
    "PITWALL_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/pitwall-scheduler",
    "PITWALL_SCHEDULED_EVALUATION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:p-Sched",
    "PITWALL_EVALUATE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:p-Eval",
}


def test_settings_parse_lists_and_round_trip_to_the_environment() -> None:
    settings = Settings.from_environ(ENVIRON)
    assert settings.instance_types == ("g4dn.2xlarge", "g5.2xlarge")
    assert Settings.from_environ(settings.as_environ()) == settings
    assert settings.wall_seconds(600) == 600


def test_a_missing_setting_is_an_error_naming_it() -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != "PITWALL_RUNS_TABLE"}
    with pytest.raises(ValueError, match="PITWALL_RUNS_TABLE"):
        Settings.from_environ(environ)


def test_an_accelerated_clock_shortens_the_wall_clock_timeouts() -> None:
    settings = Settings.from_environ(
        {**ENVIRON, "PITWALL_CLOCK_SCALE": "240", "PITWALL_CLOCK_ANCHOR_EPOCH": "1000"}
    )
    assert settings.wall_seconds(1200) == 5
    assert settings.wall_seconds(1) == 1


def test_run_settings_name_the_segment_and_the_racer_cannot_override_its_facts() -> None:
    request = RunRequest(
        model_name="m",
        track="reInvent2019_track",
        run_settings={"DR_LOCAL_S3_MODEL_PREFIX": "elsewhere", "DR_TRAIN_RTF": "1.5"},
    )
    values = drfc.run_settings(
        request,
        run_id="run-1",
        model_prefix="models/m/seg-001",
        pretrained=PretrainedSource(model_prefix="models/m/seg-000", checkpoint="last"),
    )
    assert values["DR_LOCAL_S3_MODEL_PREFIX"] == "models/m/seg-001"
    assert values["DR_TRAIN_RTF"] == "1.5"
    assert values["DR_LOCAL_S3_PRETRAINED"] == "True"
    assert values["DR_LOCAL_S3_PRETRAINED_PREFIX"] == "models/m/seg-000"
    assert values["DR_LOCAL_S3_PRETRAINED_CHECKPOINT"] == "last"
    assert values["DR_LOCAL_S3_CUSTOM_FILES_PREFIX"] == "runs/run-1/custom_files"
    assert values["DR_WORLD_NAME"] == "reInvent2019_track"


def test_evaluation_settings_name_the_checkpoint_trials_and_track() -> None:
    request = RunRequest(model_name="m", track="reInvent2019_track")
    values = drfc.run_settings(
        request,
        run_id="eval-1",
        model_prefix="models/m/seg-000",
        pretrained=None,
        evaluation=EvaluationRequest(
            checkpoint="best",
            trials=5,
            tracks=[TrackLeg(track="2022_april_open", direction="counterclockwise"), TrackLeg(track="x")],
        ),
    )
    assert (values["DR_EVAL_CHECKPOINT"], values["DR_EVAL_NUMBER_OF_TRIALS"]) == ("best", "5")
    assert (values["DR_WORLD_NAME"], values["DR_EVAL_REVERSE_DIRECTION"]) == ("2022_april_open", "True")
    assert values["DR_LOCAL_S3_PRETRAINED"] == "False"


def test_evaluation_settings_carry_the_race_options_and_a_numbered_checkpoint_reads_last() -> None:
    # Given an object-avoidance evaluation in continuous laps with a 3 s off-track penalty
    evaluation = EvaluationRequest(
        checkpoint=12, race_type="OBJECT_AVOIDANCE", continuous=True, off_track_penalty_seconds=3
    )
    # When its run.env is made
    values = drfc.evaluation_settings(evaluation, TrackLeg(track="reInvent2019_track"))
    # Then DRFC gets each option, and `last` (the evaluation's copy holds checkpoint 12 only)
    assert values["DR_RACE_TYPE"] == "OBJECT_AVOIDANCE"
    assert (values["DR_EVAL_IS_CONTINUOUS"], values["DR_EVAL_OFF_TRACK_PENALTY"]) == ("True", "3")
    assert (values["DR_EVAL_CHECKPOINT"], values["DR_EVAL_REVERSE_DIRECTION"]) == ("last", "False")

"""Typed DRFC settings over env files: names, allowed values, misspellings, write-back."""

from __future__ import annotations

import pytest

from pitwall.customfiles.envfile import EnvFile
from pitwall.customfiles.settings import (
    KNOWN_KEYS,
    TYPED_KEYS,
    HostSettings,
    RunSettings,
    closest_known_key,
    load_settings,
    write_settings,
)

RUN = EnvFile.parse
SECTION_1_NAMES = [
    "DR_CLOUD",
    "DR_AWS_APP_REGION",
    "DR_LOCAL_S3_BUCKET",
    "DR_UPLOAD_S3_BUCKET",
    "DR_WORKERS",
    "DR_DOCKER_STYLE",
    "DR_SIMAPP_SOURCE",
    "DR_SIMAPP_VERSION",
    "DR_WEBVIEWER_PORT",
    "DR_KINESIS_STREAM_ENABLE",
    "DR_CLOUD_WATCH_ENABLE",
    "DR_HOST_X",
    "DR_RUN_ID",
    "DR_WORLD_NAME",
    "DR_RACE_TYPE",
    "DR_CAR_NAME",
    "DR_LOCAL_S3_MODEL_PREFIX",
    "DR_LOCAL_S3_CUSTOM_FILES_PREFIX",
    "DR_LOCAL_S3_REWARD_KEY",
    "DR_LOCAL_S3_MODEL_METADATA_KEY",
    "DR_LOCAL_S3_HYPERPARAMETERS_KEY",
    "DR_LOCAL_S3_METRICS_PREFIX",
    "DR_LOCAL_S3_TRAINING_PARAMS_FILE",
    "DR_TRAIN_CHANGE_START_POSITION",
    "DR_TRAIN_ALTERNATE_DRIVING_DIRECTION",
    "DR_TRAIN_REVERSE_DIRECTION",
    "DR_TRAIN_BEST_MODEL_METRIC",
    "DR_TRAIN_MIN_EVAL_TRIALS",
    "DR_TRAIN_RTF",
    "DR_LOCAL_S3_PRETRAINED",
    "DR_LOCAL_S3_PRETRAINED_PREFIX",
    "DR_LOCAL_S3_PRETRAINED_CHECKPOINT",
    "DR_EVAL_CHECKPOINT",
    "DR_EVAL_NUMBER_OF_TRIALS",
    "DR_EVAL_IS_CONTINUOUS",
    "DR_EVAL_MAX_RESETS",
    "DR_EVAL_OFF_TRACK_PENALTY",
    "DR_EVAL_REVERSE_DIRECTION",
    "DR_EVAL_SAVE_MP4",
    "DR_LOCAL_S3_EVAL_PARAMS_FILE",
]

HOST = "DR_SIMAPP_SOURCE=awsdeepracercommunity/deepracer-simapp\nDR_SIMAPP_VERSION=6.0.4-gpu\n"


def test_every_name_of_the_reference_is_typed():
    assert set(SECTION_1_NAMES) <= TYPED_KEYS
    assert {"DR_OA_NUMBER_OF_OBSTACLES", "DR_H2B_BOT_CAR_SPEED"} <= TYPED_KEYS


def test_the_seed_run_env_loads_with_references_resolved(seed_env_files):
    files = seed_env_files

    check = load_settings(RUN(files["run.env"]), None)

    assert check.problems == []
    assert check.run is not None
    assert check.run.world_name == "reInvent2019_track"
    assert check.run.local_s3_reward_key == "custom_files/reward_function.py"
    assert check.run.eval_is_continuous is True and check.run.local_s3_pretrained is False


def test_the_seed_system_env_lacks_the_simapp_image_names_drfc_now_needs(seed_env_files):
    check = load_settings(None, RUN(seed_env_files["system.env"]))

    rendered = [problem.render() for problem in check.problems]
    assert rendered == [
        "system.env: DR_SIMAPP_SOURCE: missing (required)",
        "system.env: DR_SIMAPP_VERSION: missing (required)",
    ]
    assert any("DR_SAGEMAKER_IMAGE" in warning.render() for warning in check.warnings)
    assert any(
        "inline comment" in warning.message and warning.field == "DR_WORKERS" for warning in check.warnings
    )


@pytest.mark.parametrize(
    ("line", "field", "allowed"),
    [
        ("DR_RACE_TYPE=DRAG", "DR_RACE_TYPE", "'TIME_TRIAL', 'OBJECT_AVOIDANCE' or 'HEAD_TO_BOT'"),
        ("DR_TRAIN_BEST_MODEL_METRIC=speed", "DR_TRAIN_BEST_MODEL_METRIC", "'progress' or 'reward'"),
        ("DR_EVAL_IS_CONTINUOUS=true", "DR_EVAL_IS_CONTINUOUS", None),
        ("DR_EVAL_NUMBER_OF_TRIALS=0", "DR_EVAL_NUMBER_OF_TRIALS", ">= 1"),
        ("DR_EVAL_CHECKPOINT=newest", "DR_EVAL_CHECKPOINT", "'last' or 'best'"),
        ("DR_TRAIN_RTF=fast", "DR_TRAIN_RTF", None),
    ],
)
def test_bad_run_values_name_the_file_field_value_and_what_is_allowed(line, field, allowed):
    check = load_settings(RUN(f"DR_WORLD_NAME=oval\nDR_LOCAL_S3_MODEL_PREFIX=m\n{line}\n"), None)

    (problem,) = check.problems
    assert (problem.file, problem.field, problem.value) == ("run.env", field, line.split("=")[1])
    assert problem.allowed == allowed
    assert check.run is None


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("DR_WORKERS=0", "DR_WORKERS"),
        ("DR_DOCKER_STYLE=k8s", "DR_DOCKER_STYLE"),
        ("DR_WEBVIEWER_PORT=70000", "DR_WEBVIEWER_PORT"),
    ],
)
def test_bad_host_values_are_problems_of_system_env(line, field):
    check = load_settings(None, RUN(HOST + line + "\n"))

    assert [(problem.file, problem.field) for problem in check.problems] == [("system.env", field)]


def test_a_misspelt_known_key_is_a_warning_naming_the_closest_known_key():
    check = load_settings(
        RUN("DR_WORLD_NAME=oval\nDR_LOCAL_S3_MODEL_PREFIX=m\nDR_TRAIN_BEST_MODEL_METRC=reward\n"), None
    )

    (warning,) = check.warnings
    assert warning.field == "DR_TRAIN_BEST_MODEL_METRC"
    assert "did you mean DR_TRAIN_BEST_MODEL_METRIC?" in warning.message
    assert check.problems == []


def test_known_untyped_and_foreign_keys_are_not_called_misspelt():
    assert closest_known_key("DR_EVAL_COLLISION_PENALTY") == "DR_EVAL_COLLISION_PENALTY"
    check = load_settings(
        RUN("DR_WORLD_NAME=x\nDR_LOCAL_S3_MODEL_PREFIX=m\nDR_CAR_COLOR=Red\nCUDA_VISIBLE_DEVICES=0\n"), None
    )
    assert check.warnings == [] and "DR_CAR_COLOR" in KNOWN_KEYS


def test_cross_field_rules_of_an_increment():
    text = "DR_WORLD_NAME=oval.npy\nDR_LOCAL_S3_MODEL_PREFIX=m\nDR_LOCAL_S3_PRETRAINED=True\n"

    check = load_settings(RUN(text), None)

    assert {problem.field for problem in check.problems} == {"DR_WORLD_NAME", "DR_LOCAL_S3_PRETRAINED_PREFIX"}


def test_a_typed_value_that_refers_to_an_unknown_variable_is_not_checked_but_said_so():
    check = load_settings(None, RUN(HOST + "DR_WORKERS=$NUMBER_OF_WORKERS\n"))

    assert check.problems == []
    assert any("not checked" in warning.message for warning in check.warnings)


def test_write_back_changes_only_what_changed_and_keeps_everything_else():
    original = (
        "# my run\nDR_WORLD_NAME=oval      # the track\nDR_LOCAL_S3_MODEL_PREFIX=m\n"
        "DR_EVAL_OFF_TRACK_PENALTY=5\nDR_REWARD=$DR_LOCAL_S3_MODEL_PREFIX/x\nDR_UNKNOWN_THING=1\n"
    )
    env = RUN(original)
    settings = load_settings(env, None).run
    assert settings is not None

    write_settings(settings, env)
    assert env.render() == original  # 5 and 5.0 mean the same: untouched

    settings.world_name = "2022_april_open"
    settings.train_best_model_metric = "reward"
    settings.local_s3_pretrained_checkpoint = None  # explicitly unset: removed (absent here)
    write_settings(settings, env)

    assert (
        env.render()
        == original.replace("=oval ", "=2022_april_open ") + "DR_TRAIN_BEST_MODEL_METRIC=reward\n"
    )


def test_booleans_are_written_as_drfc_writes_them():
    host = HostSettings(
        simapp_source="s", simapp_version="6.0.4-gpu", host_x=False, kinesis_stream_enable=True
    )
    env = EnvFile()

    write_settings(host, env)

    assert env["DR_HOST_X"] == "False" and env["DR_KINESIS_STREAM_ENABLE"] == "True"
    assert env["DR_SIMAPP_VERSION"] == "6.0.4-gpu"
    assert load_settings(None, env).host == host


def test_run_settings_know_when_the_race_has_objects():
    assert RunSettings(world_name="oval", local_s3_model_prefix="m", race_type="HEAD_TO_BOT").has_objects
    assert not RunSettings(world_name="oval", local_s3_model_prefix="m").has_objects


def test_host_keys_in_run_env_are_checked_without_asking_for_the_whole_host():
    text = "DR_WORLD_NAME=oval\nDR_LOCAL_S3_MODEL_PREFIX=m\nDR_WORKERS=0\nDR_DOCKER_STYLE=swarm\n"

    check = load_settings(RUN(text), None)

    assert [(problem.file, problem.field) for problem in check.problems] == [("run.env", "DR_WORKERS")]
    assert check.host is None and check.run is not None

"""Typed DRFC settings: the training/evaluation settings of a model (run.env) and the host
settings (system.env), read from and written back into an `EnvFile`.

THE REGISTRY of names is the two models below: a field `world_name` IS the DRFC key
`DR_WORLD_NAME` (the alias generator adds `DR_` and upper-cases), and `KNOWN_KEYS` (used by
the misspelling check and the renderer) is derived from their fields plus `OTHER_DRFC_KEYS`,
the names DRFC knows that Pitwall keeps verbatim without typing them.

DRFC writes booleans as `True` / `False` and its scripts compare with `== "True"`, so a
`true` would silently mean False: only the two spellings are accepted.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from pitwall.customfiles.envfile import EnvFile, resolve_all
from pitwall.customfiles.problems import Problem, problems_from_validation_error, rule_error

RUN_ENV = "run.env"
SYSTEM_ENV = "system.env"

RaceType = Literal["TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"]
RACE_TYPES_WITH_OBJECTS: frozenset[str] = frozenset({"OBJECT_AVOIDANCE", "HEAD_TO_BOT"})
Checkpoint = Literal["last", "best"]


def _parse_drfc_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "True":
        return True
    if value == "False":
        return False
    raise ValueError('must be True or False, written exactly so (DRFC compares with == "True")')


DrfcBool = Annotated[
    bool,
    PlainValidator(_parse_drfc_bool),
    PlainSerializer(lambda value: "True" if value else "False", return_type=str),
]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _drfc_key(field_name: str) -> str:
    return "DR_" + field_name.upper()


class _DrfcSettings(BaseModel):
    model_config = ConfigDict(
        alias_generator=_drfc_key, populate_by_name=True, extra="ignore", validate_assignment=True
    )
    FILE: ClassVar[str] = ""  # overridden: the env file these settings normally live in

    @classmethod
    def drfc_keys(cls) -> list[str]:
        return [_drfc_key(name) for name in cls.model_fields]

    def env_values(self) -> dict[str, str | None]:
        """The DRFC text of each field set on this model; None for a field set to None (remove)."""
        dumped = self.model_dump(mode="json", by_alias=True, include=self.model_fields_set)
        return {key: None if value is None else _text(value) for key, value in dumped.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


class RunSettings(_DrfcSettings):
    """Training and evaluation settings of one model (DRFC run.env)."""

    FILE: ClassVar[str] = RUN_ENV

    run_id: NonNegativeInt | None = None
    world_name: str = Field(min_length=1)
    race_type: RaceType = "TIME_TRIAL"
    car_name: str | None = None
    enable_domain_randomization: DrfcBool | None = None
    # S3 keys
    local_s3_model_prefix: str = Field(min_length=1)
    local_s3_custom_files_prefix: str | None = None
    local_s3_reward_key: str | None = None
    local_s3_model_metadata_key: str | None = None
    local_s3_hyperparameters_key: str | None = None
    local_s3_metrics_prefix: str | None = None
    local_s3_training_params_file: str | None = None
    local_s3_eval_params_file: str | None = None
    upload_s3_prefix: str | None = None
    # continue from a trained model
    local_s3_pretrained: DrfcBool | None = None
    local_s3_pretrained_prefix: str | None = None
    local_s3_pretrained_checkpoint: Checkpoint | None = None
    # training
    train_change_start_position: DrfcBool | None = None
    train_alternate_driving_direction: DrfcBool | None = None
    train_reverse_direction: DrfcBool | None = None
    train_start_position_offset: Fraction | None = None
    train_round_robin_advance_dist: Fraction | None = None
    train_multi_config: DrfcBool | None = None
    train_best_model_metric: Literal["progress", "reward"] | None = None
    train_min_eval_trials: PositiveInt | None = None
    train_rtf: PositiveFloat | None = None
    train_max_steps_per_iteration: PositiveInt | None = None
    # evaluation
    eval_checkpoint: Checkpoint | None = None
    eval_number_of_trials: PositiveInt | None = None
    eval_is_continuous: DrfcBool | None = None
    eval_max_resets: NonNegativeInt | None = None
    eval_off_track_penalty: NonNegativeFloat | None = None
    eval_collision_penalty: NonNegativeFloat | None = None
    eval_reverse_direction: DrfcBool | None = None
    eval_save_mp4: DrfcBool | None = None
    eval_debug_reward: DrfcBool | None = None
    eval_rtf: PositiveFloat | None = None
    eval_reset_behind_dist: NonNegativeFloat | None = None
    # object avoidance
    oa_number_of_obstacles: PositiveInt | None = None
    oa_min_distance_between_obstacles: PositiveFloat | None = None
    oa_randomize_obstacle_locations: DrfcBool | None = None
    oa_is_obstacle_bot_car: DrfcBool | None = None
    oa_obstacle_type: str | None = None
    oa_object_positions: str | None = None
    # head to bot
    h2b_is_lane_change: DrfcBool | None = None
    h2b_lower_lane_change_time: PositiveFloat | None = None
    h2b_upper_lane_change_time: PositiveFloat | None = None
    h2b_lane_change_distance: PositiveFloat | None = None
    h2b_number_of_bot_cars: PositiveInt | None = None
    h2b_min_distance_between_bot_cars: PositiveFloat | None = None
    h2b_randomize_bot_car_locations: DrfcBool | None = None
    h2b_bot_car_speed: PositiveFloat | None = None
    h2b_bot_car_penalty: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        violations: list[dict[str, Any]] = []
        if self.world_name.endswith(".npy"):
            violations.append(
                {
                    "field": "DR_WORLD_NAME",
                    "value": self.world_name,
                    "message": "the track name is written without the .npy extension",
                    "allowed": self.world_name.removesuffix(".npy"),
                }
            )
        if self.local_s3_pretrained:
            if not self.local_s3_pretrained_prefix:
                violations.append(
                    {
                        "field": "DR_LOCAL_S3_PRETRAINED_PREFIX",
                        "message": "DR_LOCAL_S3_PRETRAINED=True needs the prefix of the source model",
                    }
                )
            elif self.local_s3_pretrained_prefix == self.local_s3_model_prefix:
                violations.append(
                    {
                        "field": "DR_LOCAL_S3_MODEL_PREFIX",
                        "value": self.local_s3_model_prefix,
                        "message": "an increment needs a NEW, empty model prefix, not the pretrained one",
                    }
                )
        low, high = self.h2b_lower_lane_change_time, self.h2b_upper_lane_change_time
        if low is not None and high is not None and low > high:
            violations.append(
                {
                    "field": "DR_H2B_LOWER_LANE_CHANGE_TIME",
                    "value": low,
                    "message": f"is above DR_H2B_UPPER_LANE_CHANGE_TIME ({high})",
                    "allowed": f"<= {high}",
                }
            )
        if violations:
            raise rule_error(violations)
        return self

    @property
    def has_objects(self) -> bool:
        return self.race_type in RACE_TYPES_WITH_OBJECTS


class HostSettings(_DrfcSettings):
    """Settings of the training host (DRFC system.env)."""

    FILE: ClassVar[str] = SYSTEM_ENV

    cloud: Literal["aws", "local", "azure", "remote"] = "aws"
    aws_app_region: str | None = None
    local_s3_bucket: str | None = None
    local_s3_profile: str | None = None
    upload_s3_bucket: str | None = None
    upload_s3_profile: str | None = None
    upload_s3_role: str | None = None
    workers: PositiveInt = 1
    docker_style: Literal["swarm", "compose"] = "swarm"
    simapp_source: str = Field(min_length=1)
    simapp_version: str = Field(min_length=1)
    webviewer_port: Port | None = None
    kinesis_stream_enable: DrfcBool | None = None
    kinesis_stream_name: str | None = None
    cloud_watch_enable: DrfcBool | None = None
    cloud_watch_log_stream_prefix: str | None = None
    host_x: DrfcBool | None = None
    gui_enable: DrfcBool | None = None
    camera_main_enable: DrfcBool | None = None
    camera_sub_enable: DrfcBool | None = None
    camera_kvs_enable: DrfcBool | None = None
    enable_extra_kvs_overlay: DrfcBool | None = None
    robomaker_mount_logs: DrfcBool | None = None
    quiet_activate: DrfcBool | None = None
    minio_image: str | None = None
    analysis_image: str | None = None
    display: str | None = None
    remote_minio_url: str | None = None
    robomaker_cuda_devices: str | None = None
    sagemaker_cuda_devices: str | None = None
    experiment_name: str | None = None
    telegraf_host: str | None = None
    telegraf_port: Port | None = None


SETTINGS_MODELS: tuple[type[_DrfcSettings], ...] = (RunSettings, HostSettings)

# Names DRFC knows that Pitwall keeps verbatim without typing them (never "misspelt").
OTHER_DRFC_KEYS: frozenset[str] = frozenset(
    {
        "DR_CAR_BODY_SHELL_TYPE", "DR_CAR_COLOR", "DR_DISPLAY_NAME", "DR_RACER_NAME",
        "DR_EVAL_OPP_S3_MODEL_PREFIX", "DR_EVAL_OPP_CAR_BODY_SHELL_TYPE", "DR_EVAL_OPP_CAR_NAME",
        "DR_EVAL_OPP_DISPLAY_NAME", "DR_EVAL_OPP_RACER_NAME", "DR_EVAL_OPP_S3_METRICS_PREFIX",
        "DR_UPLOAD_MODEL_NAME", "DR_TARGET_REWARD_SCORE", "DR_LOCAL_S3_METRICS_KEY",
        "DR_LOCAL_S3_ENDPOINT_URL", "DR_LOCAL_S3_AUTH_MODE", "DR_LOCAL_ACCESS_KEY_ID",
        "DR_LOCAL_SECRET_ACCESS_KEY", "DR_LOCAL_PROFILE_ENDPOINT_URL", "DR_UPLOAD_PROFILE",
        "DR_MINIO_URL", "DR_ROBOMAKER_MOUNT_SIMAPP_DIR", "DR_ROBOMAKER_MOUNT_SCRIPTS_DIR",
        "DR_GAZEBO_RENDER_ENGINE", "DR_GAZEBO_ARGS", "DR_DROA_URL", "DR_DROA_USERNAME",
        "DR_DROA_DEBUG", "DR_DIR", "DR_CONFIG",
    }
)  # fmt: skip

# Old names DRFC no longer reads -> what replaced them.
DEPRECATED_KEYS: Mapping[str, str] = {
    "DR_SAGEMAKER_IMAGE": "DR_SIMAPP_SOURCE + DR_SIMAPP_VERSION",
    "DR_ROBOMAKER_IMAGE": "DR_SIMAPP_SOURCE + DR_SIMAPP_VERSION",
    "DR_COACH_IMAGE": "DR_SIMAPP_SOURCE + DR_SIMAPP_VERSION",
    "DR_CHANGE_START_POSITION": "DR_TRAIN_CHANGE_START_POSITION",
    "DR_ALTERNATE_DRIVING_DIRECTION": "DR_TRAIN_ALTERNATE_DRIVING_DIRECTION",
    "DR_EVAL_NUMBER_OF_RESETS": "DR_EVAL_MAX_RESETS",
    "DR_COLLISION_PENALTY": "DR_EVAL_COLLISION_PENALTY",
    "DR_TRAIN_ROUND_ROBIN_ADVANCE_DISTANCE": "DR_TRAIN_ROUND_ROBIN_ADVANCE_DIST",
}

TYPED_KEYS: frozenset[str] = frozenset(key for model in SETTINGS_MODELS for key in model.drfc_keys())
KNOWN_KEYS: frozenset[str] = TYPED_KEYS | OTHER_DRFC_KEYS | frozenset(DEPRECATED_KEYS)


def closest_known_key(key: str) -> str | None:
    """The known DRFC key `key` is most likely a misspelling of, or None."""
    matches = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1, cutoff=0.8)
    return matches[0] if matches else None


@dataclass
class SettingsCheck:
    """The outcome of reading run.env / system.env: the models (None when invalid or absent),
    and every problem and warning, each naming its file and key."""

    run: RunSettings | None = None
    host: HostSettings | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def name_warnings(file: str, env: EnvFile) -> list[Problem]:
    """Misspelt keys (naming the closest known key), deprecated keys and inline comments."""
    warnings = []
    for key in env:
        if key in KNOWN_KEYS or not key.startswith("DR_"):
            pass
        elif (closest := closest_known_key(key)) is not None:
            warnings.append(
                Problem(
                    file=file, field=key, message=f"unknown key; did you mean {closest}?", allowed=closest
                )
            )
        if key in DEPRECATED_KEYS:
            warnings.append(
                Problem(
                    file=file,
                    field=key,
                    message=f"DRFC no longer reads this key; use {DEPRECATED_KEYS[key]}",
                )
            )
    for number, line in enumerate(env.lines, start=1):
        if line.key is not None and line.has_inline_comment:
            warnings.append(
                Problem(
                    file=file,
                    field=line.key,
                    message=f"line {number}: inline comment; DRFC's loader splits lines on whitespace, "
                    "so the comment's words become stray variables (put comments on their own line)",
                )
            )
    return warnings


def load_settings(run_env: EnvFile | None, system_env: EnvFile | None) -> SettingsCheck:
    """Validate run.env and system.env together, as DRFC loads them (system.env, then run.env).

    `$VAR` references are expanded from both files; a typed, non-text key whose reference cannot
    be resolved is not checked (a warning says so). A model is built only for a file given."""
    check = SettingsCheck()
    files = {name: env for name, env in ((SYSTEM_ENV, system_env), (RUN_ENV, run_env)) if env is not None}
    source_file: dict[str, str] = {}
    merged: dict[str, str] = {}
    for name, env in files.items():
        check.warnings.extend(name_warnings(name, env))
        for key, value in env.items():
            merged[key] = value
            source_file[key] = name
    resolved, unresolved = resolve_all(merged)
    for model in SETTINGS_MODELS:
        # A model's own file absent: its keys found in the other file are still checked,
        # but nothing is missing (the settings may come from elsewhere).
        partial = model.FILE not in files
        if partial and not any(key in merged for key in model.drfc_keys()):
            continue
        values: dict[str, Any] = {}
        text_fields = {
            _drfc_key(name) for name, info in model.model_fields.items() if _is_text(info.annotation)
        }
        for key in model.drfc_keys():
            if key not in resolved:
                continue
            if key in unresolved and key not in text_fields:
                check.warnings.append(
                    Problem(
                        file=source_file[key],
                        field=key,
                        value=merged[key],
                        message=f"not checked: refers to ${', $'.join(unresolved[key])}, "
                        "which neither run.env nor system.env sets",
                    )
                )
                continue
            values[key] = merged[key] if key in unresolved else resolved[key]
        try:
            instance = model.model_validate(values)
        except ValidationError as error:
            for problem in problems_from_validation_error(model.FILE, error):
                if partial and problem.field not in values:
                    continue
                check.problems.append(
                    problem.model_copy(update={"file": source_file.get(problem.field, model.FILE)})
                )
            continue
        if partial:
            continue
        if isinstance(instance, RunSettings):
            check.run = instance
        elif isinstance(instance, HostSettings):
            check.host = instance
    return check


def _is_text(annotation: Any) -> bool:
    return annotation is str or annotation == (str | None)


def write_settings(settings: _DrfcSettings, env: EnvFile) -> None:
    """Write the fields set on `settings` into `env`. A line whose value already means the same
    (after expanding `$VAR` from `env`) is left untouched; a field set to None removes its key."""
    current, _ = resolve_all(env.as_dict())
    for key, text in settings.env_values().items():
        if text is None:
            env.delete(key)
            continue
        if key in current and _same_value(type(settings), key, current[key], text):
            continue
        env.set(key, text)


def _same_value(model: type[_DrfcSettings], key: str, current: str, wanted: str) -> bool:
    """True when the two texts mean the same value of the field (e.g. "5" and "5.0" for a float)."""
    if current == wanted:
        return True
    adapter = _field_adapter(model, key.removeprefix("DR_").lower())
    try:
        return bool(adapter.validate_python(current) == adapter.validate_python(wanted))
    except ValidationError:
        return False


@cache
def _field_adapter(model: type[_DrfcSettings], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)  # type: ignore[arg-type]
    return TypeAdapter(Annotated[info.annotation, *info.metadata])  # type: ignore[arg-type]

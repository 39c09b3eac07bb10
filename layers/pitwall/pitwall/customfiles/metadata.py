"""model_metadata.json: sensors, network, algorithm and action space, with the console's ranges
(reference section 3). The simulator itself clamps at run time; these are the ranges racers
expect to be told about before they pay for an instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal, Self, TypeGuard

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from pitwall.customfiles.jsonfile import JsonDocument
from pitwall.customfiles.problems import Problem, rule_error
from pitwall.layout import MODEL_METADATA_FILE

MIN_STEERING, MAX_STEERING = -30, 30
MIN_DISCRETE_SPEED, MIN_CONTINUOUS_SPEED, MAX_SPEED = 0.1, 0.5, 4.0
MIN_ACTIONS, MAX_ACTIONS = 2, 30

CAMERAS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS", "observation")
LIDARS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
Sensor = Literal[
    "FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS", "observation",
    "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR",
]  # fmt: skip
NeuralNetwork = Literal[
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "DEEP_CONVOLUTIONAL_NETWORK", "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
]


def _number_only(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {type(value).__name__}")
    return value


Number = Annotated[int | float, BeforeValidator(_number_only)]

_STEERING_RANGE = f"{MIN_STEERING}..{MAX_STEERING}"


class DiscreteAction(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    steering_angle: Annotated[Number, Field(ge=MIN_STEERING, le=MAX_STEERING)]
    speed: Annotated[Number, Field(ge=MIN_DISCRETE_SPEED, le=MAX_SPEED)]


class SteeringBounds(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    low: Annotated[Number, Field(ge=MIN_STEERING, le=0)]
    high: Annotated[Number, Field(ge=0, le=MAX_STEERING)]


class SpeedBounds(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    low: Annotated[Number, Field(ge=MIN_CONTINUOUS_SPEED, le=MAX_SPEED)]
    high: Annotated[Number, Field(ge=MIN_CONTINUOUS_SPEED, le=MAX_SPEED)]


class ContinuousActionSpace(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    steering_angle: SteeringBounds
    speed: SpeedBounds


def _action_space_shape(value: Any) -> str | None:
    if isinstance(value, list):
        return "<discrete>"
    if isinstance(value, dict | ContinuousActionSpace):
        return "<continuous>"
    return None


ActionSpace = Annotated[
    Annotated[list[DiscreteAction], Tag("<discrete>"), Field(min_length=MIN_ACTIONS, max_length=MAX_ACTIONS)]
    | Annotated[ContinuousActionSpace, Tag("<continuous>")],
    Discriminator(
        _action_space_shape,
        custom_error_type="action_space_shape",
        custom_error_message="must be a list of {steering_angle, speed} actions (discrete) or "
        "{steering_angle: {low, high}, speed: {low, high}} (continuous)",
    ),
]


class ModelMetadata(JsonDocument):
    FILE: ClassVar[str] = MODEL_METADATA_FILE
    ALLOWED: ClassVar[dict[str, str]] = {
        "action_space": f"{MIN_ACTIONS}..{MAX_ACTIONS} actions (discrete) or bounds (continuous)",
        "action_space.steering_angle": f"{MIN_STEERING}..{MAX_STEERING} degrees",
        "action_space.speed": f"{MIN_DISCRETE_SPEED}..{MAX_SPEED} m/s",
        "action_space.steering_angle.low": f"{MIN_STEERING}..0 degrees",
        "action_space.steering_angle.high": f"0..{MAX_STEERING} degrees",
        "action_space.speed.low": f"{MIN_CONTINUOUS_SPEED}..{MAX_SPEED} m/s",
        "action_space.speed.high": f"{MIN_CONTINUOUS_SPEED}..{MAX_SPEED} m/s",
    }

    action_space: ActionSpace
    sensor: list[Sensor] = Field(default_factory=lambda: list[Sensor](["FRONT_FACING_CAMERA"]))
    neural_network: NeuralNetwork = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    training_algorithm: Literal["clipped_ppo", "sac"] = "clipped_ppo"
    action_space_type: Literal["discrete", "continuous"] = "discrete"
    version: str | int | float | None = None

    @property
    def is_continuous(self) -> bool:
        return self.action_space_type == "continuous"

    @property
    def discrete_actions(self) -> list[DiscreteAction]:
        return self.action_space if isinstance(self.action_space, list) else []

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        space = self.model_dump(include={"action_space"})["action_space"]
        violations = rule_violations(self.sensor, self.training_algorithm, self.action_space_type, space)
        if violations:
            raise rule_error(violations)
        return self

    @classmethod
    def raw_rule_problems(cls, data: dict[str, Any]) -> list[Problem]:
        """The cross-field rules on data that failed field validation, as far as its fields
        allow (so a bad speed does not hide two cameras)."""
        sensor = data.get("sensor", ["FRONT_FACING_CAMERA"])
        if not (isinstance(sensor, list) and all(isinstance(name, str) for name in sensor)):
            sensor = ["FRONT_FACING_CAMERA"]
        algorithm = data.get("training_algorithm", "clipped_ppo")
        space_type = data.get("action_space_type", "discrete")
        if space_type not in ("discrete", "continuous"):
            space_type = None
        violations = rule_violations(sensor, algorithm, space_type, data.get("action_space"))
        return [Problem(file=cls.FILE, **violation) for violation in violations]


def rule_violations(
    sensor: Sequence[str], training_algorithm: Any, action_space_type: str | None, action_space: Any
) -> list[dict[str, Any]]:
    """Every cross-field rule of model_metadata.json that fails, on plain JSON values (a rule
    whose fields are unusable is skipped). Each violation holds Problem fields."""
    violations = _sensor_violations(sensor)
    if training_algorithm == "sac" and action_space_type == "discrete":
        violations.append(
            {
                "field": "training_algorithm",
                "value": "sac",
                "message": f"SAC needs a continuous action space, not {action_space_type}",
                "allowed": "clipped_ppo with discrete; clipped_ppo or sac with continuous",
            }
        )
    shape = (
        "discrete"
        if isinstance(action_space, list)
        else "continuous"
        if isinstance(action_space, dict)
        else None
    )
    if shape is not None and action_space_type is not None and shape != action_space_type:
        violations.append(
            {
                "field": "action_space",
                "message": f"is a {shape} action space but action_space_type is {action_space_type}",
                "allowed": "a list of actions for discrete, {low, high} bounds for continuous",
            }
        )
    elif shape == "continuous":
        for name in ("steering_angle", "speed"):
            bounds = action_space.get(name)
            if not isinstance(bounds, dict):
                continue
            low, high = bounds.get("low"), bounds.get("high")
            if _is_number(low) and _is_number(high) and not low < high:
                violations.append(
                    {
                        "field": f"action_space.{name}",
                        "value": {"low": low, "high": high},
                        "message": "low must be below high",
                        "allowed": "low < high",
                    }
                )
    return violations


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sensor_violations(sensors: Sequence[str]) -> list[dict[str, Any]]:
    cameras = [name for name in sensors if name in CAMERAS]
    lidars = [name for name in sensors if name in LIDARS]
    violations = []
    if len(cameras) != 1:
        violations.append(
            {
                "field": "sensor",
                "value": sensors,
                "message": f"needs exactly one camera, found {len(cameras)}",
                "allowed": "one of " + ", ".join(CAMERAS),
            }
        )
    if len(lidars) > 1:
        violations.append(
            {
                "field": "sensor",
                "value": sensors,
                "message": f"at most one lidar, found {len(lidars)}",
                "allowed": "at most one of " + ", ".join(LIDARS),
            }
        )
    return violations
